/* Sharded maps through the same lqft_map_* functions as plain ones.
 *
 * The linearizability-style test: on a 16-shard map, writer threads move amounts between
 * counters on different shards in cross-shard batches (each writer owns its counters, so its
 * blind batches are transfers) and in transactions (on counters every transferrer shares),
 * and write unrelated keys; reader threads check that every iteration, every snapshot, every
 * read view and every single read sees the counters' sum unchanged, which fails if any of
 * them sees half a batch or half a commit. The other tests walk the rest of the API on a
 * sharded map: options, snapshots, rollback, diff, pins, compaction, retention, stats,
 * iteration from both ends, and the refusals (plain and sharded versions mixed, files). */
#include <pthread.h>
#include <stdint.h>

#include "counters.h"

enum {
    SHARDS = 16,
    WRITERS = 2,
    OWNED = 16,       /* counters each batch writer owns */
    SHARED = 16,      /* counters the transactional transferrers share */
    START = 100,      /* every counter's first value */
    ROUNDS = 3000,    /* transfers per writer */
    READ_ROUNDS = 400 /* most reads per reader: bounded, so a serialising scheduler (valgrind)
                         cannot keep a reader looping */
};

static lqft_map *map;
static int writers_done = 0;

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static const uint64_t TOTAL = (uint64_t)(WRITERS * OWNED + SHARED) * START;

static void owned_key(unsigned w, unsigned a, char *key) { snprintf(key, 24, "cnt/w%u/%02u", w, a); }
static void shared_key(unsigned a, char *key) { snprintf(key, 24, "cnt/shared/%02u", a); }

/* The counter under `key` in a snapshot or a read view (`from`). */
typedef uint64_t (*counter_fn)(const void *from, const char *key);

static uint64_t snapshot_counter(const void *from, const char *key) {
    uint64_t v = 0;
    size_t len = 0;
    CHECK_OK(lqft_snapshot_get_into((const lqft_snapshot *)from, STR(key), (uint8_t *)&v, 8, &len));
    return v;
}

static uint64_t view_counter(const void *from, const char *key) {
    uint64_t v = 0;
    size_t len = 0;
    CHECK_OK(lqft_view_get_into((const lqft_view *)from, STR(key), (uint8_t *)&v, 8, &len));
    return v;
}

/* The sum of every counter, each read on its own through `counter`. */
static uint64_t sum_counters(counter_fn counter, const void *from) {
    uint64_t sum = 0;
    char key[24];
    for (unsigned w = 0; w < WRITERS; w++) {
        for (unsigned a = 0; a < OWNED; a++) {
            owned_key(w, a, key);
            sum += counter(from, key);
        }
    }
    for (unsigned a = 0; a < SHARED; a++) {
        shared_key(a, key);
        sum += counter(from, key);
    }
    return sum;
}

/* Moves amounts between this writer's own counters in cross-shard batches, and writes and
 * deletes keys outside the counters. */
static void *batch_writer(void *arg) {
    unsigned w = (unsigned)(uintptr_t)arg;
    uint64_t balance[OWNED];
    for (int a = 0; a < OWNED; a++) balance[a] = START;
    uint64_t s = 0x2545f4914f6cdd1dull + w;
    char from[24], to[24], noise[24];
    for (int i = 0; i < ROUNDS; i++) {
        unsigned a = (unsigned)(next(&s) % OWNED), b = (unsigned)(next(&s) % OWNED);
        if (a != b) {
            uint64_t amount = balance[a] < 9 ? balance[a] : next(&s) % 9;
            balance[a] -= amount, balance[b] += amount;
            owned_key(w, a, from);
            owned_key(w, b, to);
            lqft_batch *batch = NULL;
            CHECK_OK(lqft_batch_new(&batch));
            CHECK_OK(lqft_batch_put(batch, STR(from), (const uint8_t *)&balance[a], 8));
            CHECK_OK(lqft_batch_put(batch, STR(to), (const uint8_t *)&balance[b], 8));
            snprintf(noise, sizeof noise, "noise/%u/%u", w, (unsigned)(next(&s) % 50));
            CHECK_OK(lqft_batch_put(batch, STR(noise), STR("batched")));
            CHECK_OK(lqft_map_write_batch(map, batch, NULL));
            lqft_batch_free(batch);
        }
        snprintf(noise, sizeof noise, "noise/%u/%u", w, (unsigned)(next(&s) % 50));
        if (next(&s) % 3 == 0) {
            lqft_status st = lqft_map_delete(map, STR(noise));
            CHECK(st == LQFT_OK || st == LQFT_NOT_FOUND);
        } else {
            CHECK_OK(lqft_map_put(map, STR(noise), STR("single")));
        }
    }
    __atomic_fetch_add(&writers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Moves amounts between shared counters in transactions, retrying on conflict. */
static void *txn_writer(void *arg) {
    uint64_t s = 0x9e3779b97f4a7c15ull + (uintptr_t)arg;
    char from[24], to[24];
    for (int i = 0; i < ROUNDS / 2; i++) {
        unsigned a = (unsigned)(next(&s) % SHARED), b = (unsigned)(next(&s) % SHARED);
        if (a == b) continue;
        shared_key(a, from);
        shared_key(b, to);
        transfer(map, from, to, 5);
    }
    __atomic_fetch_add(&writers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* The sum of the counters an iterator walks (it must walk them in key order). */
static uint64_t iter_sum(lqft_iter *it) {
    uint64_t sum = 0;
    lqft_entry e;
    char last[64] = "";
    size_t last_len = 0;
    while (lqft_iter_next(it, &e) == LQFT_OK) {
        size_t n = e.key_len < last_len ? e.key_len : last_len;
        int cmp = memcmp(last, e.key, n);
        CHECK(cmp < 0 || (cmp == 0 && last_len < e.key_len));
        CHECK(e.key_len < sizeof last);
        if (e.key_len < sizeof last) {
            memcpy(last, e.key, e.key_len);
            last_len = e.key_len;
        }
        sum += decode(e.value, e.value_len);
    }
    lqft_iter_free(it);
    return sum;
}

static void *reader(void *arg) {
    unsigned kind = (unsigned)(uintptr_t)arg;
    uint64_t s = 77 + kind;
    for (int round = 0; round < READ_ROUNDS; round++) {
        int finished = __atomic_load_n(&writers_done, __ATOMIC_ACQUIRE) == WRITERS * 2;
        lqft_iter *it = NULL;
        if (kind == 0) {
            /* The live state, merged across shards as one cut. */
            CHECK_OK(lqft_map_prefix(map, STR("cnt/"), &it));
            CHECK(iter_sum(it) == TOTAL);
        } else if (kind == 1) {
            /* A snapshot, walked and read key by key; old ones compacted away. */
            lqft_snapshot *snap = NULL;
            CHECK_OK(lqft_map_snapshot(map, &snap));
            CHECK_OK(lqft_snapshot_prefix(snap, STR("cnt/"), &it));
            CHECK(iter_sum(it) == TOTAL);
            CHECK(sum_counters(snapshot_counter, snap) == TOTAL);
            lqft_snapshot_free(snap);
            CHECK_OK(lqft_map_compact(map, 4, NULL, NULL));
        } else {
            /* A read view read key by key, and single reads that must see whole values. */
            lqft_view *view = NULL;
            CHECK_OK(lqft_map_view(map, &view));
            CHECK(sum_counters(view_counter, view) == TOTAL);
            lqft_view_free(view);
            char key[24];
            shared_key((unsigned)(next(&s) % SHARED), key);
            lqft_bytes v = {0};
            CHECK_OK(lqft_map_get(map, STR(key), &v));
            CHECK(decode(v.ptr, v.len) <= TOTAL);
            lqft_bytes_free(&v);
        }
        if (finished) break;
    }
    return NULL;
}

static void test_transfers_across_shards_keep_the_sum_for_every_reader(void) {
    lqft_map_options options = {0};
    options.size = sizeof options;
    options.shards = SHARDS;
    CHECK_OK(lqft_map_new_with(&options, &map));
    uint64_t start = START;
    char key[24];
    for (unsigned w = 0; w < WRITERS; w++) {
        for (unsigned a = 0; a < OWNED; a++) {
            owned_key(w, a, key);
            CHECK_OK(lqft_map_put(map, STR(key), (const uint8_t *)&start, 8));
        }
    }
    for (unsigned a = 0; a < SHARED; a++) {
        shared_key(a, key);
        CHECK_OK(lqft_map_put(map, STR(key), (const uint8_t *)&start, 8));
    }
    pthread_t threads[WRITERS * 2 + 3];
    for (int t = 0; t < WRITERS; t++) {
        pthread_create(&threads[2 * t], NULL, batch_writer, (void *)(uintptr_t)t);
        pthread_create(&threads[2 * t + 1], NULL, txn_writer, (void *)(uintptr_t)t);
    }
    for (int r = 0; r < 3; r++) {
        pthread_create(&threads[WRITERS * 2 + r], NULL, reader, (void *)(uintptr_t)r);
    }
    for (int t = 0; t < WRITERS * 2 + 3; t++) pthread_join(threads[t], NULL);
    lqft_iter *it = NULL;
    CHECK_OK(lqft_map_prefix(map, STR("cnt/"), &it));
    CHECK(iter_sum(it) == TOTAL);
    lqft_map_free(map);
}

static lqft_map *sharded(uint32_t shards) {
    lqft_map_options options = {0};
    options.size = sizeof options;
    options.shards = shards;
    lqft_map *m = NULL;
    CHECK_OK(lqft_map_new_with(&options, &m));
    return m;
}

static void test_options_choose_plain_or_sharded(void) {
    lqft_map *m = NULL;
    uint32_t shards = 0;
    CHECK_OK(lqft_map_new_with(NULL, &m));
    CHECK_OK(lqft_map_shard_count(m, &shards));
    CHECK(shards == 1);
    lqft_map_free(m);
    m = sharded(0);
    CHECK_OK(lqft_map_shard_count(m, &shards));
    CHECK(shards == 1);
    lqft_map_free(m);
    m = sharded(7);
    CHECK_OK(lqft_map_shard_count(m, &shards));
    CHECK(shards == 7);
    lqft_map_free(m);

    lqft_map_options options = {0};
    options.size = sizeof options - 1;
    options.shards = 4;
    m = NULL;
    CHECK_STATUS(lqft_map_new_with(&options, &m), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(m == NULL && last_error_has("sizeof(lqft_map_options)"));
    options.size = sizeof options;
    options.shards = LQFT_MAX_SHARDS + 1;
    CHECK_STATUS(lqft_map_new_with(&options, &m), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(m == NULL);
    CHECK_STATUS(lqft_map_new_with(&options, NULL), LQFT_ERR_NULL_ARGUMENT);
}

static size_t count(lqft_iter *it, int back) {
    size_t n = 0;
    lqft_entry e;
    while ((back ? lqft_iter_next_back(it, &e) : lqft_iter_next(it, &e)) == LQFT_OK) n++;
    lqft_iter_free(it);
    return n;
}

static void test_the_whole_api_serves_a_sharded_map(void) {
    lqft_map *m = sharded(8);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        CHECK_OK(lqft_map_put(m, STR(key), STR("v")));
    }
    uint64_t n = 0;
    CHECK_OK(lqft_map_len(m, &n));
    CHECK(n == 100);
    bool present = false;
    CHECK_OK(lqft_map_contains(m, STR("k042"), &present));
    CHECK(present);

    /* Iteration from both ends, meeting in the middle, and packed steps. */
    lqft_iter *it = NULL;
    CHECK_OK(lqft_map_iter(m, &it));
    lqft_entry first, last;
    CHECK_OK(lqft_iter_next(it, &first));
    CHECK(bytes_eq(first.key, first.key_len, "k000"));
    CHECK_OK(lqft_iter_next_back(it, &last));
    CHECK(bytes_eq(last.key, last.key_len, "k099"));
    uint8_t buf[64];
    size_t ends[8], got = 0, used = 0;
    CHECK_OK(lqft_iter_next_packed(it, buf, sizeof buf, ends, 4, &got, &used));
    CHECK(got == 4 && bytes_eq(buf, ends[0], "k001"));
    CHECK(count(it, 1) == 94);
    CHECK_OK(lqft_map_range_bounds(m, STR("k010"), LQFT_BOUND_EXCLUDED, STR("k020"),
                                   LQFT_BOUND_INCLUDED, &it));
    CHECK(count(it, 0) == 10);

    /* Snapshots, diff, rollback with both policies. */
    lqft_snapshot *first_snap = NULL, *second = NULL;
    CHECK_OK(lqft_map_snapshot(m, &first_snap));
    CHECK_OK(lqft_map_delete(m, STR("k005")));
    CHECK_OK(lqft_map_put(m, STR("k006"), STR("changed")));
    CHECK_OK(lqft_map_put(m, STR("new"), STR("n")));
    CHECK_OK(lqft_map_snapshot(m, &second));
    lqft_diff *diff = NULL;
    CHECK_OK(lqft_diff_new(first_snap, second, &diff));
    lqft_diff_entry d;
    CHECK_OK(lqft_diff_next(diff, &d));
    CHECK(d.kind == LQFT_DIFF_REMOVED && bytes_eq(d.key, d.key_len, "k005"));
    CHECK_OK(lqft_diff_next(diff, &d));
    CHECK(d.kind == LQFT_DIFF_CHANGED && bytes_eq(d.key, d.key_len, "k006"));
    CHECK_OK(lqft_diff_next(diff, &d));
    CHECK(d.kind == LQFT_DIFF_ADDED && bytes_eq(d.key, d.key_len, "new"));
    CHECK_STATUS(lqft_diff_next(diff, &d), LQFT_DONE);
    lqft_diff_free(diff);
    lqft_snapshot_meta meta;
    CHECK_OK(lqft_snapshot_metadata(second, &meta));
    CHECK(meta.size == 100 && meta.has_parent && meta.parent_id == 1 && meta.delta_size == 3);

    /* Writes that cancel out do not block a rollback under FAIL; a real change does. */
    CHECK_OK(lqft_map_put(m, STR("k007"), STR("x")));
    CHECK_OK(lqft_map_put(m, STR("k007"), STR("v")));
    uint64_t discarded = 0;
    CHECK_OK(lqft_map_rollback(m, second, LQFT_ROLLBACK_FAIL, &discarded));
    CHECK(discarded == 2);
    CHECK_OK(lqft_map_put(m, STR("k008"), STR("x")));
    CHECK_STATUS(lqft_map_rollback(m, first_snap, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_PENDING_CHANGES);
    CHECK_OK(lqft_map_diff_live(m, second, &diff));
    CHECK_OK(lqft_diff_next(diff, &d));
    CHECK(d.kind == LQFT_DIFF_CHANGED && bytes_eq(d.key, d.key_len, "k008"));
    lqft_diff_free(diff);
    CHECK_OK(lqft_map_rollback_to(m, 1, LQFT_ROLLBACK_DISCARD, &discarded));
    CHECK(discarded == 1);
    size_t value_len = 0;
    CHECK_OK(lqft_map_get_into(m, STR("k005"), buf, sizeof buf, &value_len));

    /* Root hashes: equal contents, equal roots; a view and a snapshot of one state agree. */
    uint8_t a[LQFT_HASH_LEN], b[LQFT_HASH_LEN];
    lqft_view *view = NULL;
    CHECK_OK(lqft_map_view(m, &view));
    CHECK_OK(lqft_view_root_hash(view, a, sizeof a));
    CHECK_OK(lqft_snapshot_root_hash(first_snap, b, sizeof b));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_OK(lqft_view_len(view, &n));
    CHECK(n == 100);
    lqft_view_free(view);

    /* Pins, compaction, retention, registry. */
    lqft_read_session *session = NULL;
    CHECK_OK(lqft_map_pin(m, first_snap, &session));
    for (int i = 0; i < 4; i++) {
        lqft_snapshot *s = NULL;
        CHECK_OK(lqft_map_snapshot(m, &s));
        lqft_snapshot_free(s);
    }
    lqft_ids pruned = {0}, retained = {0};
    CHECK_OK(lqft_map_compact(m, 1, &pruned, &retained));
    CHECK(pruned.len == 4);                          /* ids 2..5 */
    CHECK(retained.len == 2 && retained.ptr[0] == 1); /* pinned 1 and current 6 */
    lqft_ids_free(&pruned);
    lqft_ids_free(&retained);
    lqft_read_session_free(session);
    CHECK_OK(lqft_map_set_retention(m, true, 1, &pruned));
    CHECK(pruned.len == 1 && pruned.ptr[0] == 1);
    lqft_ids_free(&pruned);
    size_t registered = 0;
    CHECK_OK(lqft_map_snapshot_count(m, &registered));
    CHECK(registered == 1);
    lqft_snapshot *current = NULL;
    CHECK_OK(lqft_map_current_snapshot(m, &current));
    CHECK_OK(lqft_snapshot_metadata(current, &meta));
    CHECK(meta.id == 6);
    lqft_snapshot_free(current);

    /* Counted stats: the map's keys plus per-shard figures. */
    lqft_bytes json = {0};
    CHECK_OK(lqft_map_stats_json(m, &json));
    CHECK(strstr((const char *)json.ptr, "\"shard_count\":8") != NULL);
    CHECK(strstr((const char *)json.ptr, "\"items\":100") != NULL);
    CHECK(strstr((const char *)json.ptr, "\"shards\":[") != NULL);
    lqft_bytes_free(&json);

    /* Compare-and-swap and a cleared map. */
    CHECK_OK(lqft_map_compare_and_swap(m, STR("k001"), STR("v"), STR("w"), 0));
    CHECK_STATUS(lqft_map_compare_and_swap(m, STR("k001"), STR("v"), STR("w"), 0),
                 LQFT_CONFLICT);
    uint64_t removed = 0;
    CHECK_OK(lqft_map_clear(m, &removed));
    CHECK(removed == 100);

    /* Versions of a plain map and a sharded one do not mix; files hold plain maps only. */
    lqft_map *plain = NULL;
    lqft_snapshot *plain_snap = NULL;
    CHECK_OK(lqft_map_new(&plain));
    CHECK_OK(lqft_map_snapshot(plain, &plain_snap));
    CHECK_STATUS(lqft_map_rollback(m, plain_snap, LQFT_ROLLBACK_DISCARD, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_rollback(plain, first_snap, LQFT_ROLLBACK_DISCARD, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_diff_new(plain_snap, first_snap, &diff), LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_pin(plain, first_snap, &session), LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_snapshot_save(first_snap, "/nonexistent/never-written", NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("plain"));
    CHECK_STATUS(lqft_map_save_bundle(m, "/nonexistent/never-written", NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_save_bundle_with(m, "/nonexistent/never-written", NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_snapshot_save_with(first_snap, "/nonexistent/never-written", NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    lqft_bytes document = {0};
    CHECK_STATUS(lqft_snapshot_export(first_snap, NULL, &document), LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_export_bundle(m, NULL, &document), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(document.ptr == NULL);
    /* Every load refuses the sharded map before it reads anything. */
    const char *nowhere = "/nonexistent/never-read";
    const uint8_t *doc = (const uint8_t *)"{}";
    lqft_snapshot *loaded = NULL;
    lqft_ids ids = {0};
    CHECK_STATUS(lqft_map_load_snapshot(m, nowhere, NULL, false, LQFT_ROLLBACK_FAIL, &loaded),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("plain"));
    CHECK_STATUS(lqft_map_load_snapshot_with(m, nowhere, NULL, NULL, &loaded),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_load_snapshot_verified(m, nowhere, NULL, NULL, &loaded),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_load_bundle(m, nowhere, NULL, false, LQFT_ROLLBACK_FAIL, &ids),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_load_bundle_with(m, nowhere, NULL, NULL, &ids),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_load_bundle_verified(m, nowhere, NULL, NULL, &ids),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_import_snapshot(m, doc, 2, NULL, NULL, &loaded),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_import_bundle(m, doc, 2, NULL, NULL, &ids), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(loaded == NULL && ids.ptr == NULL);
    lqft_map *other = sharded(4);
    CHECK_STATUS(lqft_map_rollback(other, first_snap, LQFT_ROLLBACK_DISCARD, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    lqft_map_free(other);
    lqft_snapshot_free(plain_snap);
    lqft_map_free(plain);

    lqft_snapshot_free(first_snap);
    lqft_snapshot_free(second);
    lqft_map_free(m);
}

int main(void) {
    test_options_choose_plain_or_sharded();
    test_the_whole_api_serves_a_sharded_map();
    test_transfers_across_shards_keep_the_sum_for_every_reader();
    return check_finish("test_sharded");
}
