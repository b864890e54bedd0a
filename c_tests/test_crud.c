/* CRUD on the live state with binary keys: embedded NUL, the empty key, the maximum length. */
#include "check.h"

static void test_version(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", LQFT_VERSION_MAJOR, LQFT_VERSION_MINOR,
             LQFT_VERSION_PATCH);
    CHECK(strcmp(lqft_version(), expected) == 0);
}

static void test_put_get_delete(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    uint64_t len = 99;
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 0);

    CHECK_OK(lqft_map_put(map, STR("alpha"), STR("one")));
    CHECK_OK(lqft_map_put(map, STR("beta"), STR("two")));
    CHECK_OK(lqft_map_put(map, STR("alpha"), STR("uno"))); /* overwrite */
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 2);

    lqft_bytes value = {NULL, 0};
    CHECK_OK(lqft_map_get(map, STR("alpha"), &value));
    CHECK(bytes_eq(value.ptr, value.len, "uno"));
    CHECK(value.ptr[value.len] == 0); /* library buffers are NUL-terminated */
    lqft_bytes_free(&value);
    CHECK(value.ptr == NULL && value.len == 0);
    lqft_bytes_free(&value); /* second free of a reset buffer is a no-op */
    lqft_bytes_free(NULL);

    /* NOT_FOUND leaves the output untouched. */
    lqft_bytes untouched = {(uint8_t *)0x1234, 77};
    CHECK_STATUS(lqft_map_get(map, STR("gamma"), &untouched), LQFT_NOT_FOUND);
    CHECK(untouched.ptr == (uint8_t *)0x1234 && untouched.len == 77);

    bool present = false;
    CHECK_OK(lqft_map_contains(map, STR("beta"), &present));
    CHECK(present);
    CHECK_OK(lqft_map_contains(map, STR("gamma"), &present));
    CHECK(!present);

    CHECK_OK(lqft_map_delete(map, STR("beta")));
    CHECK_STATUS(lqft_map_delete(map, STR("beta")), LQFT_NOT_FOUND);
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 1);

    uint64_t removed = 0;
    CHECK_OK(lqft_map_clear(map, &removed));
    CHECK(removed == 1);
    CHECK_OK(lqft_map_clear(map, NULL)); /* optional output */
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 0);
    lqft_map_free(map);
    lqft_map_free(NULL);
}

static void test_get_into(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("hello")));

    uint8_t buf[8];
    size_t needed = 0;
    /* Size query. */
    CHECK_STATUS(lqft_map_get_into(map, STR("k"), NULL, 0, &needed), LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(needed == 5);
    /* Too small: size reported, buffer untouched. */
    memset(buf, 'x', sizeof buf);
    needed = 0;
    CHECK_STATUS(lqft_map_get_into(map, STR("k"), buf, 4, &needed), LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(needed == 5);
    CHECK(buf[0] == 'x');
    CHECK(last_error_has("needs 5 bytes"));
    /* Exact fit. */
    size_t got = 0;
    CHECK_OK(lqft_map_get_into(map, STR("k"), buf, 5, &got));
    CHECK(got == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK_STATUS(lqft_map_get_into(map, STR("missing"), buf, sizeof buf, &got), LQFT_NOT_FOUND);
    /* NULL buffer with a capacity is misuse. */
    CHECK_STATUS(lqft_map_get_into(map, STR("k"), NULL, 8, &got), LQFT_ERR_NULL_ARGUMENT);
    lqft_map_free(map);
}

/* A reusable lqft_value_buf: the live state, a snapshot and a view each fill it in one call;
 * a value larger than it reports the size needed and leaves the bytes alone; a struct of the
 * wrong size is refused. */
static void test_get_buf(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("hello")));
    CHECK_OK(lqft_map_put(map, STR("big"), STR("0123456789")));
    lqft_snapshot *snap = NULL;
    CHECK_OK(lqft_map_snapshot(map, &snap));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("later"))); /* the snapshot keeps "hello" */
    lqft_view *view = NULL;
    CHECK_OK(lqft_map_view(map, &view));

    uint8_t data[8];
    lqft_value_buf buf = {sizeof(lqft_value_buf), data, sizeof data, 0};
    CHECK_OK(lqft_map_get_buf(map, STR("k"), &buf));
    CHECK(buf.len == 5 && memcmp(data, "later", 5) == 0);
    CHECK_OK(lqft_snapshot_get_buf(snap, STR("k"), &buf));
    CHECK(buf.len == 5 && memcmp(data, "hello", 5) == 0);
    CHECK_OK(lqft_view_get_buf(view, STR("k"), &buf));
    CHECK(buf.len == 5 && memcmp(data, "later", 5) == 0);

    /* NOT_FOUND writes nothing. */
    buf.len = 77;
    CHECK_STATUS(lqft_map_get_buf(map, STR("missing"), &buf), LQFT_NOT_FOUND);
    CHECK_STATUS(lqft_snapshot_get_buf(snap, STR("missing"), &buf), LQFT_NOT_FOUND);
    CHECK_STATUS(lqft_view_get_buf(view, STR("missing"), &buf), LQFT_NOT_FOUND);
    CHECK(buf.len == 77);

    /* Too small: the size needed in len, the data untouched; a larger buffer then succeeds. */
    memset(data, 'x', sizeof data);
    CHECK_STATUS(lqft_map_get_buf(map, STR("big"), &buf), LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(buf.len == 10 && data[0] == 'x');
    CHECK(last_error_has("needs 10 bytes"));
    CHECK_STATUS(lqft_snapshot_get_buf(snap, STR("big"), &buf), LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(buf.len == 10);
    uint8_t larger[16];
    buf.data = larger;
    buf.cap = sizeof larger;
    CHECK_OK(lqft_view_get_buf(view, STR("big"), &buf));
    CHECK(buf.len == 10 && memcmp(larger, "0123456789", 10) == 0);

    /* A size query: no data, capacity 0. */
    lqft_value_buf query = {sizeof(lqft_value_buf), NULL, 0, 0};
    CHECK_STATUS(lqft_map_get_buf(map, STR("k"), &query), LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(query.len == 5);

    /* Misuse: no struct, NULL data with a capacity, a size smaller than the struct's. */
    CHECK_STATUS(lqft_map_get_buf(map, STR("k"), NULL), LQFT_ERR_NULL_ARGUMENT);
    lqft_value_buf no_data = {sizeof(lqft_value_buf), NULL, 8, 0};
    CHECK_STATUS(lqft_map_get_buf(map, STR("k"), &no_data), LQFT_ERR_NULL_ARGUMENT);
    lqft_value_buf unsized = {0, data, sizeof data, 55};
    CHECK_STATUS(lqft_map_get_buf(map, STR("k"), &unsized), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("sizeof(lqft_value_buf)"));
    CHECK(unsized.len == 55);

    lqft_view_free(view);
    lqft_snapshot_free(snap);
    lqft_map_free(map);
}

/* Readers: three-argument gets that return the value's length, of the live state (later
 * writes show), a snapshot and a view; absent keys give LQFT_READER_NOT_FOUND and write
 * nothing; a value larger than the buffer reports the size needed and the reader reads into
 * the buffer the caller grew; readers outlive the handles they were made from; misuse is
 * refused. */
static void test_reader(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("hello")));
    CHECK_OK(lqft_map_put(map, STR("big"), STR("0123456789")));
    CHECK_OK(lqft_map_put(map, STR(""), STR("")));
    lqft_snapshot *snap = NULL;
    CHECK_OK(lqft_map_snapshot(map, &snap));
    lqft_view *view = NULL;
    CHECK_OK(lqft_map_view(map, &view));

    uint8_t data[8];
    lqft_value_buf buf = {sizeof(lqft_value_buf), data, sizeof data, 0};
    uint8_t snap_data[8];
    lqft_value_buf snap_buf = {sizeof(lqft_value_buf), snap_data, sizeof snap_data, 0};
    uint8_t view_data[8];
    lqft_value_buf view_buf = {sizeof(lqft_value_buf), view_data, sizeof view_data, 0};
    lqft_reader *live = NULL, *of_snap = NULL, *of_view = NULL;
    CHECK_OK(lqft_map_reader(map, &buf, &live));
    CHECK_OK(lqft_snapshot_reader(snap, &snap_buf, &of_snap));
    CHECK_OK(lqft_view_reader(view, &view_buf, &of_view));

    CHECK(lqft_reader_get(live, STR("k")) == 5 && memcmp(data, "hello", 5) == 0);
    CHECK(buf.len == 5);
    CHECK(lqft_reader_get(live, STR("")) == 0); /* the empty key, an empty value */
    CHECK_OK(lqft_map_put(map, STR("k"), STR("later")));
    CHECK(lqft_reader_get(live, STR("k")) == 5 && memcmp(data, "later", 5) == 0);
    CHECK(lqft_reader_get(of_snap, STR("k")) == 5 && memcmp(snap_data, "hello", 5) == 0);
    CHECK(lqft_reader_get(of_view, STR("k")) == 5 && memcmp(view_data, "hello", 5) == 0);

    CHECK_STATUS(lqft_reader_contains(live, STR("k")), LQFT_OK);
    CHECK_STATUS(lqft_reader_contains(of_snap, STR("missing")), LQFT_NOT_FOUND);
    CHECK_STATUS(lqft_reader_contains(of_view, STR("big")), LQFT_OK);

    /* Absent: a code that is neither a length nor a status, nothing written. */
    buf.len = 77;
    memset(data, 'x', sizeof data);
    CHECK(lqft_reader_get(live, STR("missing")) == LQFT_READER_NOT_FOUND);
    CHECK(LQFT_READER_NOT_FOUND < INT32_MIN);
    CHECK(buf.len == 77 && data[0] == 'x');

    /* Too small: the size needed in len, the data untouched; the grown buffer then serves. */
    CHECK(lqft_reader_get(live, STR("big")) == LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(buf.len == 10 && data[0] == 'x');
    CHECK(last_error_has("lqft_reader_get") && last_error_has("needs 10 bytes"));
    uint8_t larger[16];
    buf.data = larger;
    buf.cap = sizeof larger;
    CHECK(lqft_reader_get(live, STR("big")) == 10 && memcmp(larger, "0123456789", 10) == 0);

    /* Readers outlive their handles: the map, snapshot and view go first. */
    lqft_view_free(view);
    lqft_snapshot_free(snap);
    CHECK_OK(lqft_map_put(map, STR("k"), STR("last")));
    lqft_map_free(map);
    CHECK(lqft_reader_get(live, STR("k")) == 4 && memcmp(larger, "last", 4) == 0);
    CHECK(lqft_reader_get(of_snap, STR("k")) == 5 && memcmp(snap_data, "hello", 5) == 0);
    CHECK(lqft_reader_get(of_view, STR("big")) == LQFT_ERR_BUFFER_TOO_SMALL);

    /* Misuse: NULL reader, key or buffer; a key too long; a buffer of the wrong size. */
    CHECK(lqft_reader_get(NULL, STR("k")) == LQFT_ERR_NULL_ARGUMENT);
    CHECK(lqft_reader_get(live, NULL, 1) == LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_reader_contains(NULL, STR("k")), LQFT_ERR_NULL_ARGUMENT);
    static uint8_t long_key[LQFT_MAX_KEY_LEN + 1];
    CHECK(lqft_reader_get(live, long_key, sizeof long_key) == LQFT_ERR_KEY_TOO_LONG);
    CHECK_STATUS(lqft_reader_contains(live, long_key, sizeof long_key), LQFT_ERR_KEY_TOO_LONG);
    lqft_reader *none = NULL;
    CHECK_STATUS(lqft_map_reader(NULL, &buf, &none), LQFT_ERR_NULL_ARGUMENT);
    lqft_map *other = NULL;
    CHECK_OK(lqft_map_new(&other));
    CHECK_STATUS(lqft_map_reader(other, NULL, &none), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_reader(other, &buf, NULL), LQFT_ERR_NULL_ARGUMENT);
    lqft_value_buf unsized = {0, data, sizeof data, 0};
    CHECK_STATUS(lqft_map_reader(other, &unsized, &none), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("sizeof(lqft_value_buf)"));
    CHECK(none == NULL);
    buf.size = 0; /* changed after the reader was made: refused at the get */
    CHECK(lqft_reader_get(live, STR("k")) == LQFT_ERR_INVALID_ARGUMENT);
    lqft_map_free(other);

    lqft_reader_free(live);
    lqft_reader_free(of_snap);
    lqft_reader_free(of_view);
    lqft_reader_free(NULL);
}

/* Many keys per call: values back to back with their ends, absent keys marked; a buffer
 * too small for the rest stops the call early (the caller goes on from there), too small for
 * the first value reports its size; bad counts and lengths are refused before any lookup. */
static void test_get_many(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("a"), STR("one")));
    CHECK_OK(lqft_map_put(map, STR("bb"), STR("")));
    CHECK_OK(lqft_map_put(map, STR("c"), STR("three")));
    lqft_snapshot *snap = NULL;
    CHECK_OK(lqft_map_snapshot(map, &snap));
    CHECK_OK(lqft_map_put(map, STR("a"), STR("uno")));
    lqft_view *view = NULL;
    CHECK_OK(lqft_map_view(map, &view));

    const uint8_t keys[] = "abbxc"; /* "a", "bb", "x" (absent), "c" */
    const size_t lens[] = {1, 2, 1, 1};
    uint8_t buf[16];
    size_t ends[4] = {0};
    bool found[4] = {false};
    size_t done = 0, used = 0;
    CHECK_OK(lqft_map_get_many(map, keys, lens, 4, buf, sizeof buf, ends, found, &done, &used));
    CHECK(done == 4 && used == 8);
    CHECK(ends[0] == 3 && ends[1] == 3 && ends[2] == 3 && ends[3] == 8);
    CHECK(found[0] && found[1] && !found[2] && found[3]);
    CHECK(memcmp(buf, "unothree", 8) == 0);
    CHECK_OK(lqft_snapshot_get_many(snap, keys, lens, 4, buf, sizeof buf, ends, found, &done,
                                    &used));
    CHECK(done == 4 && used == 8 && memcmp(buf, "onethree", 8) == 0);
    CHECK_OK(lqft_view_get_many(view, keys, lens, 4, buf, sizeof buf, ends, found, &done, &used));
    CHECK(done == 4 && memcmp(buf, "unothree", 8) == 0);

    /* Room for "uno" only: the call stops after the keys whose values fit (absent ones
     * included); the caller continues with the rest. */
    CHECK_OK(lqft_map_get_many(map, keys, lens, 4, buf, 4, ends, found, &done, &used));
    CHECK(done == 3 && used == 3 && found[0] && found[1] && !found[2]);
    CHECK_OK(lqft_map_get_many(map, keys + 4, lens + 3, 1, buf, 5, ends + 3, found + 3, &done,
                               &used));
    CHECK(done == 1 && used == 5 && ends[3] == 5 && memcmp(buf, "three", 5) == 0);

    /* The first value alone too large: its size, nothing counted as done. */
    done = 77;
    CHECK_STATUS(lqft_map_get_many(map, keys + 4, lens + 3, 1, buf, 2, ends, found, &done, &used),
                 LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(used == 5 && done == 77);

    /* Misuse. */
    CHECK_STATUS(lqft_map_get_many(map, keys, lens, 0, buf, sizeof buf, ends, found, &done, &used),
                 LQFT_ERR_INVALID_ARGUMENT);
    const size_t too_long[] = {1, LQFT_MAX_KEY_LEN + 1};
    CHECK_STATUS(lqft_map_get_many(map, keys, too_long, 2, buf, sizeof buf, ends, found, &done,
                                   &used),
                 LQFT_ERR_KEY_TOO_LONG);
    CHECK_STATUS(lqft_map_get_many(NULL, keys, lens, 4, buf, sizeof buf, ends, found, &done,
                                   &used),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_get_many(map, NULL, lens, 4, buf, sizeof buf, ends, found, &done, &used),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_get_many(map, keys, NULL, 4, buf, sizeof buf, ends, found, &done, &used),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_get_many(map, keys, lens, 4, buf, sizeof buf, NULL, found, &done, &used),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_get_many(map, keys, lens, 4, buf, sizeof buf, ends, NULL, &done, &used),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_get_many(map, keys, lens, 4, buf, sizeof buf, ends, found, NULL, &used),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_get_many(map, keys, lens, 4, buf, sizeof buf, ends, found, &done, NULL),
                 LQFT_ERR_NULL_ARGUMENT);

    lqft_view_free(view);
    lqft_snapshot_free(snap);
    lqft_map_free(map);
}

static void test_binary_keys(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    const uint8_t k1[] = {'a', 0, 'b'};
    const uint8_t k2[] = {'a', 0, 'c'};
    const uint8_t k3[] = {'a'};
    const uint8_t v_nul[] = {0, 0, 1};
    CHECK_OK(lqft_map_put(map, k1, sizeof k1, STR("ab")));
    CHECK_OK(lqft_map_put(map, k2, sizeof k2, v_nul, sizeof v_nul));
    CHECK_OK(lqft_map_put(map, k3, sizeof k3, STR("a")));
    /* The empty key, passed as NULL with length 0, and an empty value. */
    CHECK_OK(lqft_map_put(map, NULL, 0, NULL, 0));
    uint64_t len = 0;
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 4);

    lqft_bytes v = {NULL, 0};
    CHECK_OK(lqft_map_get(map, k2, sizeof k2, &v));
    CHECK(v.len == 3 && memcmp(v.ptr, v_nul, 3) == 0);
    lqft_bytes_free(&v);
    CHECK_OK(lqft_map_get(map, k1, sizeof k1, &v));
    CHECK(bytes_eq(v.ptr, v.len, "ab"));
    lqft_bytes_free(&v);
    /* The empty key through a non-NULL pointer is the same key. */
    CHECK_OK(lqft_map_get(map, (const uint8_t *)"", 0, &v));
    CHECK(v.len == 0 && v.ptr != NULL && v.ptr[0] == 0);
    lqft_bytes_free(&v);

    /* Maximum key length works; one more byte is rejected and changes nothing. */
    uint8_t *big = malloc(LQFT_MAX_KEY_LEN + 1);
    memset(big, 0xAB, LQFT_MAX_KEY_LEN + 1);
    CHECK_OK(lqft_map_put(map, big, LQFT_MAX_KEY_LEN, STR("max")));
    CHECK_OK(lqft_map_get(map, big, LQFT_MAX_KEY_LEN, &v));
    CHECK(bytes_eq(v.ptr, v.len, "max"));
    lqft_bytes_free(&v);
    CHECK_STATUS(lqft_map_put(map, big, LQFT_MAX_KEY_LEN + 1, STR("x")), LQFT_ERR_KEY_TOO_LONG);
    CHECK(last_error_has("65536"));
    CHECK_STATUS(lqft_map_get(map, big, LQFT_MAX_KEY_LEN + 1, &v), LQFT_ERR_KEY_TOO_LONG);
    CHECK_STATUS(lqft_map_delete(map, big, LQFT_MAX_KEY_LEN + 1), LQFT_ERR_KEY_TOO_LONG);
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 5);
    CHECK_OK(lqft_map_delete(map, big, LQFT_MAX_KEY_LEN));
    free(big);

    /* An over-long value length is rejected before a single byte is read, so a short buffer
     * with a huge length is safe to pass. */
    if (sizeof(size_t) > 4) {
        uint8_t one = 1;
        size_t huge = (size_t)LQFT_MAX_VALUE_LEN + 1;
        CHECK_STATUS(lqft_map_put(map, STR("v"), &one, huge), LQFT_ERR_VALUE_TOO_LONG);
        CHECK_STATUS(lqft_map_contains(map, STR("v"), &(bool){false}), LQFT_OK);
    }
    lqft_map_free(map);
}

static void test_pending_and_stats(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("a"), STR("1")));
    CHECK_OK(lqft_map_put(map, STR("b"), STR("2")));
    CHECK_STATUS(lqft_map_delete(map, STR("zz")), LQFT_NOT_FOUND); /* not a mutation */
    uint64_t pending = 0;
    CHECK_OK(lqft_map_pending_mutations(map, &pending));
    CHECK(pending == 2);

    lqft_bytes json = {NULL, 0};
    CHECK_OK(lqft_map_stats_json(map, &json));
    CHECK(json.ptr != NULL && strlen((const char *)json.ptr) == json.len);
    CHECK(strstr((const char *)json.ptr, "\"items\":2") != NULL);
    CHECK(strstr((const char *)json.ptr, "\"pending_mutations\":2") != NULL);
    lqft_bytes_free(&json);
    lqft_map_free(map);
}

int main(void) {
    test_version();
    test_put_get_delete();
    test_get_into();
    test_get_buf();
    test_reader();
    test_get_many();
    test_binary_keys();
    test_pending_and_stats();
    return check_finish("test_crud");
}
