/* Ordered iteration, range and prefix scans over the live state and snapshots. */
#include "check.h"

/* Drains `it` forwards into "key=value;" text and frees it; returns the number of entries. */
static size_t drain(lqft_iter *it, char *text, size_t cap) {
    size_t count = 0, used = 0;
    lqft_entry e;
    lqft_status st;
    text[0] = 0;
    while ((st = lqft_iter_next(it, &e)) == LQFT_OK) {
        int n = snprintf(text + used, cap - used, "%.*s=%.*s;", (int)e.key_len,
                         (const char *)e.key, (int)e.value_len, (const char *)e.value);
        if (n > 0 && (size_t)n < cap - used) used += (size_t)n;
        count++;
    }
    CHECK(st == LQFT_DONE);
    CHECK_STATUS(lqft_iter_next(it, &e), LQFT_DONE); /* stays done */
    lqft_iter_free(it);
    return count;
}

static void test_map_scans(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    const char *keys[] = {"b", "a", "ab", "abc", "b\xff", "c", "ac"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK_OK(lqft_map_put(map, STR(keys[i]), STR(keys[i])));

    char text[256];
    lqft_iter *it = NULL;
    CHECK_OK(lqft_map_iter(map, &it));
    /* Later writes do not show in an existing iterator. */
    CHECK_OK(lqft_map_put(map, STR("aa"), STR("late")));
    CHECK(drain(it, text, sizeof text) == 7);
    CHECK(strcmp(text, "a=a;ab=ab;abc=abc;ac=ac;b=b;b\xff=b\xff;c=c;") == 0);

    CHECK_OK(lqft_map_range(map, STR("ab"), STR("b"), &it));
    CHECK(drain(it, text, sizeof text) == 3);
    CHECK(strcmp(text, "ab=ab;abc=abc;ac=ac;") == 0);

    /* start >= end is empty; an empty start is the smallest key. */
    CHECK_OK(lqft_map_range(map, STR("b"), STR("a"), &it));
    CHECK(drain(it, text, sizeof text) == 0);
    CHECK_OK(lqft_map_range(map, NULL, 0, STR("ab"), &it));
    CHECK(drain(it, text, sizeof text) == 2);
    CHECK(strcmp(text, "a=a;aa=late;") == 0);

    CHECK_OK(lqft_map_prefix(map, STR("ab"), &it));
    CHECK(drain(it, text, sizeof text) == 2);
    CHECK(strcmp(text, "ab=ab;abc=abc;") == 0);
    /* A prefix ending in 0xFF has no finite successor: still exact. */
    CHECK_OK(lqft_map_prefix(map, STR("b\xff"), &it));
    CHECK(drain(it, text, sizeof text) == 1);
    CHECK_OK(lqft_map_prefix(map, NULL, 0, &it));
    CHECK(drain(it, text, sizeof text) == 8);
    CHECK_OK(lqft_map_prefix(map, STR("zz"), &it));
    CHECK(drain(it, text, sizeof text) == 0);

    /* Backwards, and both ends meeting in the middle. */
    CHECK_OK(lqft_map_prefix(map, STR("a"), &it));
    lqft_entry e;
    CHECK_OK(lqft_iter_next_back(it, &e));
    CHECK(bytes_eq(e.key, e.key_len, "ac"));
    CHECK_OK(lqft_iter_next(it, &e));
    CHECK(bytes_eq(e.key, e.key_len, "a"));
    CHECK_OK(lqft_iter_next_back(it, &e));
    CHECK(bytes_eq(e.key, e.key_len, "abc"));
    CHECK_OK(lqft_iter_next(it, &e));
    CHECK(bytes_eq(e.key, e.key_len, "aa"));
    CHECK_OK(lqft_iter_next(it, &e));
    CHECK(bytes_eq(e.key, e.key_len, "ab"));
    CHECK_STATUS(lqft_iter_next_back(it, &e), LQFT_DONE);
    CHECK_STATUS(lqft_iter_next(it, &e), LQFT_DONE);
    lqft_iter_free(it);

    /* An iterator outlives its map, and its entry views stay valid until the next step. */
    CHECK_OK(lqft_map_iter(map, &it));
    CHECK_OK(lqft_iter_next(it, &e));
    lqft_map_free(map);
    CHECK(bytes_eq(e.key, e.key_len, "a") && bytes_eq(e.value, e.value_len, "a"));
    CHECK(drain(it, text, sizeof text) == 7);
    lqft_iter_free(NULL);
}

static void test_snapshot_scans(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof key, "user:%03d", i);
        CHECK_OK(lqft_map_put(map, STR(key), STR("x")));
    }
    CHECK_OK(lqft_map_put(map, STR("zone"), STR("y")));
    lqft_snapshot *s = NULL;
    CHECK_OK(lqft_map_snapshot(map, &s));
    CHECK_OK(lqft_map_clear(map, NULL));

    char text[4096];
    lqft_iter *it = NULL;
    CHECK_OK(lqft_snapshot_iter(s, &it));
    CHECK(drain(it, text, sizeof text) == 101);
    CHECK_OK(lqft_snapshot_range(s, STR("user:010"), STR("user:020"), &it));
    CHECK(drain(it, text, sizeof text) == 10);
    CHECK(strncmp(text, "user:010=x;", 11) == 0);
    CHECK_OK(lqft_snapshot_prefix(s, STR("user:05"), &it));
    /* The iterator keeps the version alive after the snapshot handle is gone. */
    lqft_snapshot_free(s);
    CHECK(drain(it, text, sizeof text) == 10);
    lqft_map_free(map);
}

/* Ranges with an open end or excluded bounds, on the live state and on a snapshot. */
static void test_bounds(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    const char *keys[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < 4; i++) CHECK_OK(lqft_map_put(map, STR(keys[i]), STR(keys[i])));
    char text[256];
    lqft_iter *it = NULL;
    CHECK_OK(lqft_map_range_bounds(map, STR("b"), LQFT_BOUND_EXCLUDED, NULL, 0,
                                   LQFT_BOUND_UNBOUNDED, &it));
    CHECK(drain(it, text, sizeof text) == 2);
    CHECK(strcmp(text, "c=c;d=d;") == 0);
    CHECK_OK(lqft_map_range_bounds(map, NULL, 0, LQFT_BOUND_UNBOUNDED, STR("c"),
                                   LQFT_BOUND_INCLUDED, &it));
    CHECK(drain(it, text, sizeof text) == 3);
    CHECK(strcmp(text, "a=a;b=b;c=c;") == 0);
    /* Both bounds excluding the same key: empty, not an error. */
    CHECK_OK(lqft_map_range_bounds(map, STR("b"), LQFT_BOUND_EXCLUDED, STR("b"),
                                   LQFT_BOUND_EXCLUDED, &it));
    CHECK(drain(it, text, sizeof text) == 0);
    /* The bytes of an open end are ignored, even a bad pointer-length pair. */
    CHECK_OK(lqft_map_range_bounds(map, NULL, 5, LQFT_BOUND_UNBOUNDED, NULL, 7,
                                   LQFT_BOUND_UNBOUNDED, &it));
    CHECK(drain(it, text, sizeof text) == 4);
    lqft_snapshot *s = NULL;
    CHECK_OK(lqft_map_snapshot(map, &s));
    CHECK_OK(lqft_snapshot_range_bounds(s, STR("a"), LQFT_BOUND_INCLUDED, STR("c"),
                                        LQFT_BOUND_EXCLUDED, &it));
    CHECK(drain(it, text, sizeof text) == 2);
    CHECK(strcmp(text, "a=a;b=b;") == 0);
    /* Unknown bound kinds and NULL bytes with a length are refused; `out` is left alone. */
    it = NULL;
    CHECK_STATUS(lqft_snapshot_range_bounds(s, STR("a"), 3, NULL, 0, LQFT_BOUND_UNBOUNDED, &it),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_range_bounds(map, NULL, 1, LQFT_BOUND_INCLUDED, NULL, 0,
                                       LQFT_BOUND_UNBOUNDED, &it),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK(it == NULL);
    lqft_snapshot_free(s);
    lqft_map_free(map);
}

/* Packed steps: many entries per call, from both ends, with buffers too small for some. */
static void test_packed(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    char key[8], value[64];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        memset(value, 'a' + i, sizeof value);
        /* Value i has i * 6 bytes: k9's entry needs 2 + 54 bytes. */
        CHECK_OK(lqft_map_put(map, STR(key), (const uint8_t *)value, (size_t)i * 6));
    }
    lqft_iter *it = NULL;
    CHECK_OK(lqft_map_iter(map, &it));
    uint8_t buf[64];
    size_t ends[8], count = 99, len = 99;
    /* Four entries at most per call; k0..k3 need 2+0, 2+6, 2+12, 2+18 = 44 bytes. */
    CHECK_OK(lqft_iter_next_packed(it, buf, sizeof buf, ends, 4, &count, &len));
    CHECK(count == 4 && len == 44);
    CHECK(ends[0] == 2 && ends[1] == 2 && ends[2] == 4 && ends[3] == 10);
    CHECK(memcmp(buf, "k0k1bbbbbbk2", 12) == 0);
    CHECK(ends[7] == 44);
    /* From the back: k9 (56 bytes) fits alone, k8 (50) does not fit after it. */
    CHECK_OK(lqft_iter_next_back_packed(it, buf, sizeof buf, ends, 4, &count, &len));
    CHECK(count == 1 && len == 56 && ends[0] == 2 && ends[1] == 56);
    CHECK(memcmp(buf, "k9jjj", 5) == 0);
    /* A buffer too small for the next entry reports what it needs and loses nothing. */
    count = len = 0;
    CHECK_STATUS(lqft_iter_next_back_packed(it, buf, 10, ends, 4, &count, &len),
                 LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 50 && count == 0);
    lqft_entry e;
    CHECK_OK(lqft_iter_next_back(it, &e));
    CHECK(bytes_eq(e.key, e.key_len, "k8"));
    /* The front continues at k4; the rest is k4..k7 and then done. */
    CHECK_OK(lqft_iter_next_packed(it, buf, sizeof buf, ends, 4, &count, &len));
    CHECK(count == 2 && memcmp(buf, "k4", 2) == 0); /* k4 (26) + k5 (32) = 58; k6 would overflow */
    CHECK_OK(lqft_iter_next_packed(it, buf, sizeof buf, ends, 4, &count, &len));
    CHECK(count == 1 && memcmp(buf, "k6", 2) == 0);
    CHECK_OK(lqft_iter_next_packed(it, buf, sizeof buf, ends, 4, &count, &len));
    CHECK(count == 1 && memcmp(buf, "k7", 2) == 0);
    count = len = 77;
    CHECK_STATUS(lqft_iter_next_packed(it, buf, sizeof buf, ends, 4, &count, &len), LQFT_DONE);
    CHECK(count == 77 && len == 77);
    /* Misuse. */
    CHECK_STATUS(lqft_iter_next_packed(it, buf, sizeof buf, ends, 0, &count, &len),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_iter_next_packed(it, NULL, 8, ends, 4, &count, &len),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_iter_next_packed(it, buf, sizeof buf, NULL, 4, &count, &len),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_iter_next_packed(NULL, buf, sizeof buf, ends, 4, &count, &len),
                 LQFT_ERR_NULL_ARGUMENT);
    lqft_iter_free(it);
    lqft_map_free(map);
}

int main(void) {
    test_map_scans();
    test_snapshot_scans();
    test_bounds();
    test_packed();
    return check_finish("test_iter");
}
