/* Diffs between snapshots and against the live state, in key order. */
#include "check.h"

static void expect(lqft_diff *d, lqft_diff_kind kind, const char *key, const char *old_value,
                   const char *new_value) {
    lqft_diff_entry e;
    CHECK_OK(lqft_diff_next(d, &e));
    CHECK(e.kind == kind);
    CHECK(bytes_eq(e.key, e.key_len, key));
    if (old_value) CHECK(e.old_value && bytes_eq(e.old_value, e.old_value_len, old_value));
    else CHECK(e.old_value == NULL && e.old_value_len == 0);
    if (new_value) CHECK(e.new_value && bytes_eq(e.new_value, e.new_value_len, new_value));
    else CHECK(e.new_value == NULL && e.new_value_len == 0);
}

int main(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("keep"), STR("same")));
    CHECK_OK(lqft_map_put(map, STR("change"), STR("old")));
    CHECK_OK(lqft_map_put(map, STR("remove"), STR("gone")));
    lqft_snapshot *a = NULL, *b = NULL;
    CHECK_OK(lqft_map_snapshot(map, &a));
    CHECK_OK(lqft_map_put(map, STR("change"), STR("new")));
    CHECK_OK(lqft_map_delete(map, STR("remove")));
    CHECK_OK(lqft_map_put(map, STR("add"), STR("fresh")));
    CHECK_OK(lqft_map_snapshot(map, &b));

    lqft_diff *d = NULL;
    CHECK_OK(lqft_diff_new(a, b, &d));
    /* The diff owns what it needs: free both snapshots and the map before walking it. */
    lqft_diff *live = NULL;
    CHECK_OK(lqft_map_put(map, STR("zz"), STR("pending")));
    CHECK_OK(lqft_map_diff_live(map, b, &live));
    lqft_snapshot_free(a);
    lqft_map_free(map);

    expect(d, LQFT_DIFF_ADDED, "add", NULL, "fresh");
    expect(d, LQFT_DIFF_CHANGED, "change", "old", "new");
    expect(d, LQFT_DIFF_REMOVED, "remove", "gone", NULL);
    lqft_diff_entry e;
    CHECK_STATUS(lqft_diff_next(d, &e), LQFT_DONE);
    CHECK_STATUS(lqft_diff_next(d, &e), LQFT_DONE);
    lqft_diff_free(d);

    expect(live, LQFT_DIFF_ADDED, "zz", NULL, "pending");
    CHECK_STATUS(lqft_diff_next(live, &e), LQFT_DONE);
    lqft_diff_free(live);

    /* A version diffed with itself is empty. */
    CHECK_OK(lqft_diff_new(b, b, &d));
    CHECK_STATUS(lqft_diff_next(d, &e), LQFT_DONE);
    lqft_diff_free(d);
    lqft_diff_free(NULL);

    /* Packed steps: key, old and new value of each difference back to back, kinds apart. */
    lqft_map *m2 = NULL;
    lqft_snapshot *s1 = NULL, *s2 = NULL;
    CHECK_OK(lqft_map_new(&m2));
    CHECK_OK(lqft_map_put(m2, STR("a"), STR("1")));
    CHECK_OK(lqft_map_put(m2, STR("b"), STR("2")));
    CHECK_OK(lqft_map_snapshot(m2, &s1));
    CHECK_OK(lqft_map_delete(m2, STR("a")));
    CHECK_OK(lqft_map_put(m2, STR("b"), STR("22")));
    CHECK_OK(lqft_map_put(m2, STR("c"), STR("")));
    CHECK_OK(lqft_map_snapshot(m2, &s2));
    CHECK_OK(lqft_diff_new(s1, s2, &d));
    uint8_t buf[8];
    size_t ends[6], count = 0, len = 0;
    lqft_diff_kind kinds[2];
    /* Two differences at most per call: "a" + "1" + "" and "b" + "2" + "22". */
    CHECK_OK(lqft_diff_next_packed(d, buf, sizeof buf, ends, kinds, 2, &count, &len));
    CHECK(count == 2 && len == 6 && memcmp(buf, "a1b222", 6) == 0);
    CHECK(kinds[0] == LQFT_DIFF_REMOVED && kinds[1] == LQFT_DIFF_CHANGED);
    CHECK(ends[0] == 1 && ends[1] == 2 && ends[2] == 2 && ends[3] == 3 && ends[4] == 4 &&
          ends[5] == 6);
    CHECK_STATUS(lqft_diff_next_packed(d, buf, 0, ends, kinds, 2, &count, &len),
                 LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 1);
    CHECK_OK(lqft_diff_next_packed(d, buf, sizeof buf, ends, kinds, 2, &count, &len));
    CHECK(count == 1 && len == 1 && kinds[0] == LQFT_DIFF_ADDED && ends[2] == 1);
    CHECK_STATUS(lqft_diff_next_packed(d, buf, sizeof buf, ends, kinds, 2, &count, &len),
                 LQFT_DONE);
    CHECK_STATUS(lqft_diff_next_packed(d, buf, sizeof buf, ends, NULL, 2, &count, &len),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_diff_next_packed(d, buf, sizeof buf, ends, kinds, 0, &count, &len),
                 LQFT_ERR_INVALID_ARGUMENT);
    lqft_diff_free(d);
    lqft_snapshot_free(s1);
    lqft_snapshot_free(s2);
    lqft_map_free(m2);
    lqft_snapshot_free(b);
    return check_finish("test_diff");
}
