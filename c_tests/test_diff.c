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
    lqft_snapshot_free(b);
    return check_finish("test_diff");
}
