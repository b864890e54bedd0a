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

int main(void) {
    test_map_scans();
    test_snapshot_scans();
    return check_finish("test_iter");
}
