/* Misuse: every exported function with each pointer argument NULL, the status texts, and the
 * last-error message. */
#include "check.h"

#define NULL_ARG(expr)                                                                 \
    do {                                                                               \
        CHECK_STATUS(expr, LQFT_ERR_NULL_ARGUMENT);                                    \
        CHECK(last_error_has("is NULL"));                                              \
    } while (0)

static void test_status_texts(void) {
    const lqft_status codes[] = {
        LQFT_OK, LQFT_NOT_FOUND, LQFT_DONE, LQFT_ERR_NULL_ARGUMENT, LQFT_ERR_INVALID_ARGUMENT,
        LQFT_ERR_KEY_TOO_LONG, LQFT_ERR_VALUE_TOO_LONG, LQFT_ERR_BUFFER_TOO_SMALL,
        LQFT_ERR_PENDING_CHANGES, LQFT_ERR_UNKNOWN_SNAPSHOT, LQFT_ERR_DUPLICATE_SNAPSHOT,
        LQFT_ERR_CORRUPT, LQFT_ERR_IO, LQFT_ERR_POLICY, LQFT_ERR_PANIC, LQFT_ERR_LOCKED,
        LQFT_ERR_POISONED, LQFT_ERR_LIMIT};
    size_t n = sizeof codes / sizeof *codes;
    for (size_t i = 0; i < n; i++) {
        const char *text = lqft_status_str(codes[i]);
        CHECK(text != NULL && strcmp(text, "unknown status") != 0);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(text, lqft_status_str(codes[j])) != 0);
    }
    CHECK(strcmp(lqft_status_str(1000), "unknown status") == 0);
    CHECK(strcmp(lqft_status_str(-1000), "unknown status") == 0);
}

static void test_null_arguments(void) {
    lqft_map *map = NULL;
    lqft_snapshot *snap = NULL;
    lqft_batch *batch = NULL;
    lqft_iter *it = NULL;
    lqft_diff *diff = NULL;
    lqft_read_session *session = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("v")));
    CHECK_OK(lqft_map_snapshot(map, &snap));
    CHECK_OK(lqft_batch_new(&batch));
    CHECK_OK(lqft_map_iter(map, &it));
    CHECK_OK(lqft_diff_new(snap, snap, &diff));
    CHECK_OK(lqft_map_pin(map, snap, &session));

    uint8_t buf[8];
    size_t size = 0;
    uint64_t u64 = 0;
    bool flag = false;
    lqft_bytes bytes = {NULL, 0};
    lqft_ids ids = {NULL, 0};
    lqft_snapshot *snap_out = NULL;
    lqft_iter *it_out = NULL;
    lqft_diff *diff_out = NULL;
    lqft_entry entry;
    lqft_diff_entry dentry;
    lqft_snapshot_meta meta;
    const uint8_t *view = NULL;
    const uint8_t *k = (const uint8_t *)"k";

    /* Constructors. */
    NULL_ARG(lqft_map_new(NULL));
    NULL_ARG(lqft_batch_new(NULL));
    CHECK(last_error_has("lqft_batch_new")); /* the message names the function */

    /* Map. */
    NULL_ARG(lqft_map_put(NULL, k, 1, k, 1));
    NULL_ARG(lqft_map_put(map, NULL, 1, k, 1));
    NULL_ARG(lqft_map_put(map, k, 1, NULL, 1));
    NULL_ARG(lqft_map_get(NULL, k, 1, &bytes));
    NULL_ARG(lqft_map_get(map, NULL, 1, &bytes));
    NULL_ARG(lqft_map_get(map, k, 1, NULL));
    NULL_ARG(lqft_map_get_into(NULL, k, 1, buf, sizeof buf, &size));
    NULL_ARG(lqft_map_get_into(map, NULL, 1, buf, sizeof buf, &size));
    NULL_ARG(lqft_map_get_into(map, k, 1, NULL, sizeof buf, &size));
    NULL_ARG(lqft_map_get_into(map, k, 1, buf, sizeof buf, NULL));
    lqft_value_buf value_buf = {sizeof(lqft_value_buf), buf, sizeof buf, 0};
    NULL_ARG(lqft_map_get_buf(NULL, k, 1, &value_buf));
    NULL_ARG(lqft_map_get_buf(map, NULL, 1, &value_buf));
    NULL_ARG(lqft_map_get_buf(map, k, 1, NULL));
    NULL_ARG(lqft_map_delete(NULL, k, 1));
    NULL_ARG(lqft_map_delete(map, NULL, 1));
    NULL_ARG(lqft_map_contains(NULL, k, 1, &flag));
    NULL_ARG(lqft_map_contains(map, NULL, 1, &flag));
    NULL_ARG(lqft_map_contains(map, k, 1, NULL));
    NULL_ARG(lqft_map_len(NULL, &u64));
    NULL_ARG(lqft_map_len(map, NULL));
    NULL_ARG(lqft_map_clear(NULL, &u64));
    NULL_ARG(lqft_map_pending_mutations(NULL, &u64));
    NULL_ARG(lqft_map_pending_mutations(map, NULL));
    NULL_ARG(lqft_map_stats_json(NULL, &bytes));
    NULL_ARG(lqft_map_stats_json(map, NULL));

    /* Snapshots and the registry. */
    NULL_ARG(lqft_map_snapshot(NULL, &snap_out));
    NULL_ARG(lqft_map_snapshot(map, NULL));
    NULL_ARG(lqft_snapshot_clone(NULL, &snap_out));
    NULL_ARG(lqft_snapshot_clone(snap, NULL));
    NULL_ARG(lqft_snapshot_get(NULL, k, 1, &bytes));
    NULL_ARG(lqft_snapshot_get(snap, NULL, 1, &bytes));
    NULL_ARG(lqft_snapshot_get(snap, k, 1, NULL));
    NULL_ARG(lqft_snapshot_get_view(NULL, k, 1, &view, &size));
    NULL_ARG(lqft_snapshot_get_view(snap, NULL, 1, &view, &size));
    NULL_ARG(lqft_snapshot_get_view(snap, k, 1, NULL, &size));
    NULL_ARG(lqft_snapshot_get_view(snap, k, 1, &view, NULL));
    NULL_ARG(lqft_snapshot_get_into(NULL, k, 1, buf, sizeof buf, &size));
    NULL_ARG(lqft_snapshot_get_into(snap, NULL, 1, buf, sizeof buf, &size));
    NULL_ARG(lqft_snapshot_get_into(snap, k, 1, NULL, sizeof buf, &size));
    NULL_ARG(lqft_snapshot_get_into(snap, k, 1, buf, sizeof buf, NULL));
    NULL_ARG(lqft_snapshot_get_buf(NULL, k, 1, &value_buf));
    NULL_ARG(lqft_snapshot_get_buf(snap, NULL, 1, &value_buf));
    NULL_ARG(lqft_snapshot_get_buf(snap, k, 1, NULL));
    NULL_ARG(lqft_snapshot_contains(NULL, k, 1, &flag));
    NULL_ARG(lqft_snapshot_contains(snap, NULL, 1, &flag));
    NULL_ARG(lqft_snapshot_contains(snap, k, 1, NULL));
    NULL_ARG(lqft_snapshot_len(NULL, &u64));
    NULL_ARG(lqft_snapshot_len(snap, NULL));
    NULL_ARG(lqft_snapshot_root_hash(NULL, buf, sizeof buf));
    NULL_ARG(lqft_snapshot_root_hash(snap, NULL, LQFT_HASH_LEN));
    NULL_ARG(lqft_snapshot_metadata(NULL, &meta));
    NULL_ARG(lqft_snapshot_metadata(snap, NULL));
    NULL_ARG(lqft_map_rollback(NULL, snap, LQFT_ROLLBACK_FAIL, &u64));
    NULL_ARG(lqft_map_rollback(map, NULL, LQFT_ROLLBACK_FAIL, &u64));
    NULL_ARG(lqft_map_rollback_to(NULL, 1, LQFT_ROLLBACK_FAIL, &u64));
    NULL_ARG(lqft_map_snapshot_count(NULL, &size));
    NULL_ARG(lqft_map_snapshot_count(map, NULL));
    NULL_ARG(lqft_map_snapshot_at(NULL, 0, &snap_out));
    NULL_ARG(lqft_map_snapshot_at(map, 0, NULL));
    NULL_ARG(lqft_map_snapshot_by_id(NULL, 1, &snap_out));
    NULL_ARG(lqft_map_snapshot_by_id(map, 1, NULL));
    NULL_ARG(lqft_map_current_snapshot(NULL, &snap_out));
    NULL_ARG(lqft_map_current_snapshot(map, NULL));
    NULL_ARG(lqft_map_snapshot_ids(NULL, &ids));
    NULL_ARG(lqft_map_snapshot_ids(map, NULL));
    NULL_ARG(lqft_map_compact(NULL, 1, &ids, &ids));
    NULL_ARG(lqft_map_set_retention(NULL, true, 1, &ids));
    NULL_ARG(lqft_map_pin(NULL, snap, &session));
    NULL_ARG(lqft_map_pin(map, NULL, &session));
    NULL_ARG(lqft_map_pin(map, snap, NULL));
    NULL_ARG(lqft_read_session_snapshot(NULL, &snap_out));
    NULL_ARG(lqft_read_session_snapshot(session, NULL));

    /* Iterators. */
    NULL_ARG(lqft_map_iter(NULL, &it_out));
    NULL_ARG(lqft_map_iter(map, NULL));
    NULL_ARG(lqft_map_range(NULL, k, 1, k, 1, &it_out));
    NULL_ARG(lqft_map_range(map, NULL, 1, k, 1, &it_out));
    NULL_ARG(lqft_map_range(map, k, 1, NULL, 1, &it_out));
    NULL_ARG(lqft_map_range(map, k, 1, k, 1, NULL));
    NULL_ARG(lqft_map_prefix(NULL, k, 1, &it_out));
    NULL_ARG(lqft_map_prefix(map, NULL, 1, &it_out));
    NULL_ARG(lqft_map_prefix(map, k, 1, NULL));
    NULL_ARG(lqft_snapshot_iter(NULL, &it_out));
    NULL_ARG(lqft_snapshot_iter(snap, NULL));
    NULL_ARG(lqft_snapshot_range(NULL, k, 1, k, 1, &it_out));
    NULL_ARG(lqft_snapshot_range(snap, NULL, 1, k, 1, &it_out));
    NULL_ARG(lqft_snapshot_range(snap, k, 1, NULL, 1, &it_out));
    NULL_ARG(lqft_snapshot_range(snap, k, 1, k, 1, NULL));
    NULL_ARG(lqft_snapshot_prefix(NULL, k, 1, &it_out));
    NULL_ARG(lqft_snapshot_prefix(snap, NULL, 1, &it_out));
    NULL_ARG(lqft_snapshot_prefix(snap, k, 1, NULL));
    NULL_ARG(lqft_iter_next(NULL, &entry));
    NULL_ARG(lqft_iter_next(it, NULL));
    NULL_ARG(lqft_iter_next_back(NULL, &entry));
    NULL_ARG(lqft_iter_next_back(it, NULL));

    /* Diffs. */
    NULL_ARG(lqft_diff_new(NULL, snap, &diff_out));
    NULL_ARG(lqft_diff_new(snap, NULL, &diff_out));
    NULL_ARG(lqft_diff_new(snap, snap, NULL));
    NULL_ARG(lqft_map_diff_live(NULL, snap, &diff_out));
    NULL_ARG(lqft_map_diff_live(map, NULL, &diff_out));
    NULL_ARG(lqft_map_diff_live(map, snap, NULL));
    NULL_ARG(lqft_diff_next(NULL, &dentry));
    NULL_ARG(lqft_diff_next(diff, NULL));

    /* Batches. */
    NULL_ARG(lqft_batch_put(NULL, k, 1, k, 1));
    NULL_ARG(lqft_batch_put(batch, NULL, 1, k, 1));
    NULL_ARG(lqft_batch_put(batch, k, 1, NULL, 1));
    NULL_ARG(lqft_batch_delete(NULL, k, 1));
    NULL_ARG(lqft_batch_delete(batch, NULL, 1));
    NULL_ARG(lqft_batch_len(NULL, &size));
    NULL_ARG(lqft_batch_len(batch, NULL));
    NULL_ARG(lqft_batch_clear(NULL));
    NULL_ARG(lqft_map_write_batch(NULL, batch, &u64));
    NULL_ARG(lqft_map_write_batch(map, NULL, &u64));

    /* Nothing above changed anything: the outputs were never written. */
    CHECK(snap_out == NULL && it_out == NULL && diff_out == NULL && bytes.ptr == NULL);
    CHECK(ids.ptr == NULL && view == NULL && size == 0 && u64 == 0);
    uint64_t len = 0;
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 1);

    /* Freeing NULL is a no-op for every handle and buffer type. */
    lqft_map_free(NULL);
    lqft_snapshot_free(NULL);
    lqft_batch_free(NULL);
    lqft_iter_free(NULL);
    lqft_diff_free(NULL);
    lqft_read_session_free(NULL);
    lqft_bytes_free(NULL);
    lqft_ids_free(NULL);

    lqft_read_session_free(session);
    lqft_diff_free(diff);
    lqft_iter_free(it);
    lqft_batch_free(batch);
    lqft_snapshot_free(snap);
    lqft_map_free(map);
}

static void test_misaligned_output(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    uint64_t storage[2] = {0, 0};
    uint64_t *misaligned = (uint64_t *)((char *)storage + 1);
    CHECK_STATUS(lqft_map_len(map, misaligned), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("misaligned"));
    lqft_map_free(map);
}

static void test_last_error_is_per_thread_and_sticky(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_STATUS(lqft_map_rollback_to(map, 42, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_UNKNOWN_SNAPSHOT);
    CHECK(last_error_has("lqft_map_rollback_to: unknown snapshot id 42"));
    /* Success and non-error outcomes leave the message alone. */
    CHECK_OK(lqft_map_put(map, STR("a"), STR("b")));
    CHECK_STATUS(lqft_map_delete(map, STR("zz")), LQFT_NOT_FOUND);
    CHECK(last_error_has("unknown snapshot id 42"));
    lqft_map_free(map);
}

int main(void) {
    test_status_texts();
    test_null_arguments();
    test_misaligned_output();
    test_last_error_is_per_thread_and_sticky();
    return check_finish("test_errors");
}
