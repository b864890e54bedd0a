/* Snapshots: isolation, views, metadata, root hashes, rollback, the registry, pins, compaction. */
#include "check.h"

static lqft_snapshot *snap(lqft_map *map) {
    lqft_snapshot *s = NULL;
    CHECK_OK(lqft_map_snapshot(map, &s));
    return s;
}

static lqft_snapshot_meta meta_of(const lqft_snapshot *s) {
    lqft_snapshot_meta m;
    memset(&m, 0, sizeof m);
    CHECK_OK(lqft_snapshot_metadata(s, &m));
    return m;
}

static void test_isolation_and_views(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("a"), STR("1")));
    lqft_snapshot *s1 = snap(map);
    CHECK_OK(lqft_map_put(map, STR("a"), STR("2")));
    CHECK_OK(lqft_map_put(map, STR("b"), STR("2")));

    const uint8_t *view = NULL;
    size_t view_len = 0;
    CHECK_OK(lqft_snapshot_get_view(s1, STR("a"), &view, &view_len));
    CHECK(bytes_eq(view, view_len, "1"));
    CHECK_STATUS(lqft_snapshot_get_view(s1, STR("b"), &view, &view_len), LQFT_NOT_FOUND);

    lqft_bytes v = {NULL, 0};
    CHECK_OK(lqft_snapshot_get(s1, STR("a"), &v));
    CHECK(bytes_eq(v.ptr, v.len, "1"));
    lqft_bytes_free(&v);
    CHECK_STATUS(lqft_snapshot_get(s1, STR("b"), &v), LQFT_NOT_FOUND);

    uint8_t buf[4];
    size_t got = 0;
    CHECK_STATUS(lqft_snapshot_get_into(s1, STR("a"), buf, 0, &got), LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(got == 1);
    CHECK_OK(lqft_snapshot_get_into(s1, STR("a"), buf, sizeof buf, &got));
    CHECK(got == 1 && buf[0] == '1');
    CHECK_STATUS(lqft_snapshot_get_into(s1, STR("b"), buf, sizeof buf, &got), LQFT_NOT_FOUND);

    bool present = true;
    CHECK_OK(lqft_snapshot_contains(s1, STR("b"), &present));
    CHECK(!present);
    uint64_t n = 0;
    CHECK_OK(lqft_snapshot_len(s1, &n));
    CHECK(n == 1);

    /* The snapshot, and views into it, outlive the map. */
    lqft_map_free(map);
    CHECK(bytes_eq(view, view_len, "1")); /* the NOT_FOUND call did not touch the view */
    CHECK_OK(lqft_snapshot_get_view(s1, STR("a"), &view, &view_len));
    CHECK(bytes_eq(view, view_len, "1"));

    /* A cloned handle is independent of the original. */
    lqft_snapshot *copy = NULL;
    CHECK_OK(lqft_snapshot_clone(s1, &copy));
    lqft_snapshot_free(s1);
    CHECK_OK(lqft_snapshot_len(copy, &n));
    CHECK(n == 1);
    lqft_snapshot_free(copy);
    lqft_snapshot_free(NULL);
}

static void test_metadata_and_hash(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("x"), STR("1")));
    CHECK_OK(lqft_map_put(map, STR("y"), STR("2")));
    lqft_snapshot *s1 = snap(map);
    CHECK_OK(lqft_map_put(map, STR("x"), STR("3")));
    CHECK_OK(lqft_map_delete(map, STR("y")));
    CHECK_OK(lqft_map_put(map, STR("z"), STR("4")));
    lqft_snapshot *s2 = snap(map);

    lqft_snapshot_meta m1 = meta_of(s1), m2 = meta_of(s2);
    CHECK(m1.id >= 1 && m2.id > m1.id);
    CHECK(m1.generation == 1 && m2.generation == 2);
    CHECK(!m1.has_parent && m1.parent_id == 0);
    CHECK(m2.has_parent && m2.parent_id == m1.id);
    CHECK(m1.mutation_count == 2 && m2.mutation_count == 3);
    CHECK(m1.delta_size == 2 && m2.delta_size == 3);
    CHECK(m1.size == 2 && m2.size == 2);
    CHECK(m1.created_at_ns > 0 && m2.created_at_ns >= m1.created_at_ns);

    /* Equal contents give equal roots whatever the order of writes. */
    lqft_map *other = NULL;
    CHECK_OK(lqft_map_new(&other));
    CHECK_OK(lqft_map_put(other, STR("z"), STR("4")));
    CHECK_OK(lqft_map_put(other, STR("q"), STR("0")));
    CHECK_OK(lqft_map_put(other, STR("x"), STR("3")));
    CHECK_OK(lqft_map_delete(other, STR("q")));
    lqft_snapshot *o = snap(other);
    uint8_t h1[LQFT_HASH_LEN], h2[LQFT_HASH_LEN], ho[LQFT_HASH_LEN];
    CHECK_OK(lqft_snapshot_root_hash(s1, h1, sizeof h1));
    CHECK_OK(lqft_snapshot_root_hash(s2, h2, sizeof h2));
    CHECK_OK(lqft_snapshot_root_hash(o, ho, sizeof ho));
    CHECK(memcmp(h2, ho, LQFT_HASH_LEN) == 0);
    CHECK(memcmp(h1, h2, LQFT_HASH_LEN) != 0);
    CHECK_STATUS(lqft_snapshot_root_hash(s1, h1, LQFT_HASH_LEN - 1), LQFT_ERR_BUFFER_TOO_SMALL);

    lqft_snapshot_free(o);
    lqft_map_free(other);
    lqft_snapshot_free(s1);
    lqft_snapshot_free(s2);
    lqft_map_free(map);
}

static void test_rollback(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("a"), STR("1")));
    lqft_snapshot *s1 = snap(map);
    CHECK_OK(lqft_map_put(map, STR("a"), STR("2")));
    lqft_snapshot *s2 = snap(map);
    CHECK_OK(lqft_map_put(map, STR("b"), STR("uncommitted")));
    CHECK_OK(lqft_map_put(map, STR("c"), STR("uncommitted")));

    /* FAIL refuses and changes nothing. */
    uint64_t discarded = 99;
    CHECK_STATUS(lqft_map_rollback(map, s1, LQFT_ROLLBACK_FAIL, &discarded),
                 LQFT_ERR_PENDING_CHANGES);
    CHECK(discarded == 99);
    CHECK(last_error_has("2 uncommitted"));
    uint64_t len = 0;
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 3);
    /* An unknown policy is an invalid argument. */
    CHECK_STATUS(lqft_map_rollback(map, s1, 7, NULL), LQFT_ERR_INVALID_ARGUMENT);

    /* DISCARD drops and counts the pending writes. */
    CHECK_OK(lqft_map_rollback(map, s1, LQFT_ROLLBACK_DISCARD, &discarded));
    CHECK(discarded == 2);
    lqft_bytes v = {NULL, 0};
    CHECK_OK(lqft_map_get(map, STR("a"), &v));
    CHECK(bytes_eq(v.ptr, v.len, "1"));
    lqft_bytes_free(&v);
    CHECK_STATUS(lqft_map_get(map, STR("b"), &v), LQFT_NOT_FOUND);

    /* Rolling back never touches other snapshots: s2 still has a = 2. */
    CHECK_OK(lqft_snapshot_get(s2, STR("a"), &v));
    CHECK(bytes_eq(v.ptr, v.len, "2"));
    lqft_bytes_free(&v);

    /* By id, with nothing pending: FAIL succeeds. */
    lqft_snapshot_meta m2 = meta_of(s2);
    CHECK_OK(lqft_map_rollback_to(map, m2.id, LQFT_ROLLBACK_FAIL, &discarded));
    CHECK(discarded == 0);
    CHECK_OK(lqft_map_get(map, STR("a"), &v));
    CHECK(bytes_eq(v.ptr, v.len, "2"));
    lqft_bytes_free(&v);
    CHECK_STATUS(lqft_map_rollback_to(map, 12345, LQFT_ROLLBACK_DISCARD, NULL),
                 LQFT_ERR_UNKNOWN_SNAPSHOT);
    CHECK(last_error_has("12345"));

    /* The current snapshot follows the rollback. */
    lqft_snapshot *cur = NULL;
    CHECK_OK(lqft_map_current_snapshot(map, &cur));
    CHECK(meta_of(cur).id == m2.id);
    lqft_snapshot_free(cur);

    lqft_snapshot_free(s1);
    lqft_snapshot_free(s2);
    lqft_map_free(map);
}

static void test_registry_pins_compaction(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    lqft_snapshot *cur = NULL;
    CHECK_STATUS(lqft_map_current_snapshot(map, &cur), LQFT_NOT_FOUND);
    CHECK(cur == NULL);

    uint64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(lqft_map_put(map, STR(key), STR("v")));
        lqft_snapshot *s = snap(map);
        ids[i] = meta_of(s).id;
        lqft_snapshot_free(s); /* the registry keeps its own reference */
    }
    size_t count = 0;
    CHECK_OK(lqft_map_snapshot_count(map, &count));
    CHECK(count == 5);
    lqft_snapshot *s = NULL;
    CHECK_OK(lqft_map_snapshot_at(map, 0, &s));
    CHECK(meta_of(s).id == ids[0]);
    lqft_snapshot_free(s);
    CHECK_STATUS(lqft_map_snapshot_at(map, 5, &s), LQFT_NOT_FOUND);
    CHECK_OK(lqft_map_snapshot_by_id(map, ids[3], &s));
    uint64_t n = 0;
    CHECK_OK(lqft_snapshot_len(s, &n));
    CHECK(n == 4);
    lqft_snapshot_free(s);
    CHECK_STATUS(lqft_map_snapshot_by_id(map, 999, &s), LQFT_NOT_FOUND);

    lqft_ids all = {NULL, 0};
    CHECK_OK(lqft_map_snapshot_ids(map, &all));
    CHECK(all.len == 5 && all.ptr[0] == ids[0] && all.ptr[4] == ids[4]);
    lqft_ids_free(&all);
    lqft_ids_free(&all);
    lqft_ids_free(NULL);

    /* Pin the second snapshot; compaction to the last one keeps it, the current one and the
     * newest. */
    lqft_snapshot *second = NULL;
    CHECK_OK(lqft_map_snapshot_by_id(map, ids[1], &second));
    lqft_read_session *session = NULL;
    CHECK_OK(lqft_map_pin(map, second, &session));
    lqft_snapshot_free(second);
    lqft_ids pruned = {NULL, 0}, retained = {NULL, 0};
    CHECK_OK(lqft_map_compact(map, 1, &pruned, &retained));
    CHECK(pruned.len == 3);
    CHECK(pruned.len == 3 && pruned.ptr[0] == ids[0] && pruned.ptr[1] == ids[2] &&
          pruned.ptr[2] == ids[3]);
    CHECK(retained.len == 2 && retained.ptr[0] == ids[1] && retained.ptr[1] == ids[4]);
    lqft_ids_free(&pruned);
    lqft_ids_free(&retained);

    /* The session still reads its snapshot; unpinning lets compaction prune it. */
    lqft_snapshot *pinned = NULL;
    CHECK_OK(lqft_read_session_snapshot(session, &pinned));
    CHECK(meta_of(pinned).id == ids[1]);
    lqft_read_session_free(session);
    lqft_read_session_free(NULL);
    CHECK_OK(lqft_map_compact(map, 1, &pruned, NULL));
    CHECK(pruned.len == 1 && pruned.ptr[0] == ids[1]);
    lqft_ids_free(&pruned);
    /* Nothing left to prune: an empty id array is {NULL, 0}. */
    CHECK_OK(lqft_map_compact(map, 1, &pruned, NULL));
    CHECK(pruned.len == 0 && pruned.ptr == NULL);
    /* The pruned snapshot stays readable through its handle. */
    CHECK_OK(lqft_snapshot_len(pinned, &n));
    CHECK(n == 2);
    lqft_snapshot_free(pinned);

    /* A retention policy of one prunes the older snapshot now and one per later snapshot. */
    lqft_snapshot *extra = NULL;
    CHECK_OK(lqft_map_snapshot(map, &extra));
    lqft_snapshot_meta extra_meta = meta_of(extra);
    lqft_snapshot_free(extra);
    CHECK_OK(lqft_map_set_retention(map, true, 1, &pruned));
    CHECK(pruned.len == 1 && pruned.ptr[0] == ids[4]);
    lqft_ids_free(&pruned);
    CHECK_OK(lqft_map_snapshot(map, &extra));
    lqft_snapshot_meta newest = meta_of(extra);
    lqft_snapshot_free(extra);
    lqft_ids registered = {NULL, 0};
    CHECK_OK(lqft_map_snapshot_ids(map, &registered));
    CHECK(registered.len == 1 && registered.ptr[0] == newest.id && newest.id > extra_meta.id);
    lqft_ids_free(&registered);
    CHECK_OK(lqft_map_set_retention(map, false, 0, NULL));
    CHECK_OK(lqft_map_snapshot(map, &extra));
    lqft_snapshot_free(extra);
    CHECK_OK(lqft_map_snapshot_ids(map, &registered));
    CHECK(registered.len == 2);
    lqft_ids_free(&registered);
    lqft_map_free(map);
}

static void test_session_outlives_map(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    lqft_snapshot *s = snap(map);
    lqft_read_session *session = NULL;
    CHECK_OK(lqft_map_pin(map, s, &session));
    lqft_map_free(map);
    lqft_snapshot_free(s);
    lqft_snapshot *again = NULL;
    CHECK_OK(lqft_read_session_snapshot(session, &again));
    lqft_read_session_free(session);
    lqft_snapshot_free(again);
}

int main(void) {
    test_isolation_and_views();
    test_metadata_and_hash();
    test_rollback();
    test_registry_pins_compaction();
    test_session_outlives_map();
    return check_finish("test_snapshot");
}
