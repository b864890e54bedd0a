/* Transactions, compare-and-swap and read views through the C ABI.
 *
 * Threads increment one counter through transactions and another through compare-and-swap,
 * retrying on LQFT_CONFLICT, and move amounts between accounts in transactions while a reader
 * checks through read views that the accounts' sum never changes. No update may be lost. */
#include <pthread.h>
#include <stdint.h>

#include "counters.h"

enum { THREADS = 3, INCREMENTS = 500, ACCOUNTS = 8, TRANSFERS = 500 };

static lqft_map *map;

static void account_key(unsigned a, char *key) { snprintf(key, 16, "acct%02u", a); }

static void *txn_incrementer(void *arg) {
    (void)arg;
    for (int i = 0; i < INCREMENTS; i++) {
        for (;;) {
            lqft_txn *txn = NULL;
            CHECK_OK(lqft_txn_begin(map, &txn));
            lqft_bytes value = {0};
            CHECK_OK(lqft_txn_get(txn, STR("txn counter"), &value));
            uint64_t n = decode(value.ptr, value.len) + 1;
            lqft_bytes_free(&value);
            CHECK_OK(lqft_txn_put(txn, STR("txn counter"), (const uint8_t *)&n, sizeof n));
            uint64_t applied = 0;
            lqft_status status = lqft_txn_commit(txn, &applied);
            lqft_txn_free(txn);
            if (status == LQFT_OK) {
                CHECK(applied == 1);
                break;
            }
            CHECK_STATUS(status, LQFT_CONFLICT);
        }
    }
    return NULL;
}

static void *cas_incrementer(void *arg) {
    (void)arg;
    for (int i = 0; i < INCREMENTS; i++) {
        for (;;) {
            uint64_t old = 0;
            size_t len = 0;
            lqft_status got = lqft_map_get_into(map, STR("cas counter"), (uint8_t *)&old,
                                                sizeof old, &len);
            uint64_t new_value = (got == LQFT_OK ? old : 0) + 1;
            lqft_status status = lqft_map_compare_and_swap(
                map, STR("cas counter"), (const uint8_t *)&old, got == LQFT_OK ? sizeof old : 0,
                (const uint8_t *)&new_value, sizeof new_value,
                got == LQFT_OK ? 0 : LQFT_CAS_EXPECT_ABSENT);
            if (status == LQFT_OK) break;
            CHECK_STATUS(status, LQFT_CONFLICT);
        }
    }
    return NULL;
}

static int transfers_done = 0;

static void *transferrer(void *arg) {
    uint64_t s = 0x9e3779b9u + (uintptr_t)arg;
    char from[16], to[16];
    for (int i = 0; i < TRANSFERS; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        unsigned a = (unsigned)(s % ACCOUNTS), b = (unsigned)((s >> 8) % ACCOUNTS);
        if (a == b) continue;
        account_key(a, from);
        account_key(b, to);
        transfer(map, from, to, 7);
    }
    __atomic_fetch_add(&transfers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* The sum of the accounts in one read view. */
static uint64_t view_sum(void) {
    lqft_view *view = NULL;
    CHECK_OK(lqft_map_view(map, &view));
    uint64_t sum = 0;
    char key[16];
    for (unsigned a = 0; a < ACCOUNTS; a++) {
        account_key(a, key);
        uint64_t v = 0;
        size_t len = 0;
        CHECK_OK(lqft_view_get_into(view, STR(key), (uint8_t *)&v, sizeof v, &len));
        sum += v;
    }
    lqft_view_free(view);
    return sum;
}

static void test_concurrent_updates_lose_nothing(void) {
    CHECK_OK(lqft_map_new(&map));
    uint64_t zero = 0, hundred = 100;
    CHECK_OK(lqft_map_put(map, STR("txn counter"), (const uint8_t *)&zero, sizeof zero));
    char key[16];
    for (unsigned a = 0; a < ACCOUNTS; a++) {
        account_key(a, key);
        CHECK_OK(lqft_map_put(map, STR(key), (const uint8_t *)&hundred, sizeof hundred));
    }
    pthread_t threads[3 * THREADS];
    for (int t = 0; t < THREADS; t++) {
        pthread_create(&threads[3 * t], NULL, txn_incrementer, NULL);
        pthread_create(&threads[3 * t + 1], NULL, cas_incrementer, NULL);
        pthread_create(&threads[3 * t + 2], NULL, transferrer, (void *)(uintptr_t)t);
    }
    while (__atomic_load_n(&transfers_done, __ATOMIC_ACQUIRE) < THREADS) {
        CHECK(view_sum() == ACCOUNTS * 100);
    }
    for (int t = 0; t < 3 * THREADS; t++) pthread_join(threads[t], NULL);
    CHECK(view_sum() == ACCOUNTS * 100);
    uint64_t n = 0;
    size_t len = 0;
    CHECK_OK(lqft_map_get_into(map, STR("txn counter"), (uint8_t *)&n, sizeof n, &len));
    CHECK(n == THREADS * INCREMENTS);
    CHECK_OK(lqft_map_get_into(map, STR("cas counter"), (uint8_t *)&n, sizeof n, &len));
    CHECK(n == THREADS * INCREMENTS);
    lqft_map_free(map);
}

static void test_a_conflicting_commit_changes_nothing(void) {
    lqft_map *m = NULL;
    CHECK_OK(lqft_map_new(&m));
    CHECK_OK(lqft_map_put(m, STR("a"), STR("1")));
    lqft_txn *txn = NULL;
    CHECK_OK(lqft_txn_begin(m, &txn));
    lqft_bytes value = {0};
    CHECK_OK(lqft_txn_get(txn, STR("a"), &value));
    CHECK(bytes_eq(value.ptr, value.len, "1"));
    lqft_bytes_free(&value);
    CHECK_STATUS(lqft_txn_get(txn, STR("missing"), &value), LQFT_NOT_FOUND);
    CHECK_OK(lqft_txn_put(txn, STR("b"), STR("2")));
    CHECK_OK(lqft_txn_delete(txn, STR("a")));
    CHECK_STATUS(lqft_txn_get(txn, STR("a"), &value), LQFT_NOT_FOUND);
    CHECK_OK(lqft_txn_get(txn, STR("b"), &value));
    CHECK(bytes_eq(value.ptr, value.len, "2"));
    lqft_bytes_free(&value);
    /* Another writer changes a key the transaction read. */
    CHECK_OK(lqft_map_put(m, STR("missing"), STR("here now")));
    uint64_t applied = 99;
    CHECK_STATUS(lqft_txn_commit(txn, &applied), LQFT_CONFLICT);
    CHECK(applied == 99);
    CHECK_STATUS(lqft_txn_commit(txn, &applied), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("committed"));
    CHECK_STATUS(lqft_txn_put(txn, STR("c"), STR("3")), LQFT_ERR_INVALID_ARGUMENT);
    lqft_txn_free(txn);
    uint64_t n = 0;
    CHECK_OK(lqft_map_len(m, &n));
    CHECK(n == 2);
    CHECK_STATUS(lqft_map_get(m, STR("b"), &value), LQFT_NOT_FOUND);

    /* An abandoned transaction changes nothing; a transaction outlives its map. */
    CHECK_OK(lqft_txn_begin(m, &txn));
    CHECK_OK(lqft_txn_put(txn, STR("b"), STR("2")));
    lqft_txn_free(txn);
    CHECK_STATUS(lqft_map_get(m, STR("b"), &value), LQFT_NOT_FOUND);
    CHECK_OK(lqft_txn_begin(m, &txn));
    lqft_view *view = NULL;
    CHECK_OK(lqft_map_view(m, &view));
    lqft_map_free(m);
    CHECK_OK(lqft_txn_put(txn, STR("b"), STR("2")));
    CHECK_OK(lqft_txn_commit(txn, &applied));
    CHECK(applied == 1);
    lqft_txn_free(txn);
    CHECK_OK(lqft_view_len(view, &n));
    CHECK(n == 2);
    lqft_view_free(view);
}

static void test_get_into_a_reusable_buffer(void) {
    lqft_map *m = NULL;
    CHECK_OK(lqft_map_new(&m));
    CHECK_OK(lqft_map_put(m, STR("a"), STR("0123456789")));
    lqft_txn *txn = NULL;
    CHECK_OK(lqft_txn_begin(m, &txn));
    uint8_t data[16];
    lqft_value_buf buf = {sizeof(lqft_value_buf), data, sizeof data, 0};
    CHECK_OK(lqft_txn_get_buf(txn, STR("a"), &buf));
    CHECK(buf.len == 10 && memcmp(data, "0123456789", 10) == 0);

    /* The transaction's own writes, and NOT_FOUND writing nothing. */
    CHECK_OK(lqft_txn_put(txn, STR("b"), STR("mine")));
    CHECK_OK(lqft_txn_get_buf(txn, STR("b"), &buf));
    CHECK(buf.len == 4 && memcmp(data, "mine", 4) == 0);
    CHECK_OK(lqft_txn_delete(txn, STR("a")));
    buf.len = 77;
    CHECK_STATUS(lqft_txn_get_buf(txn, STR("a"), &buf), LQFT_NOT_FOUND);
    CHECK_STATUS(lqft_txn_get_buf(txn, STR("missing"), &buf), LQFT_NOT_FOUND);
    CHECK(buf.len == 77);

    /* Too small: the size needed in len, the data untouched; the key still counts as read. */
    CHECK_OK(lqft_map_put(m, STR("c"), STR("a longer value than 16")));
    uint8_t small[4] = {'x', 'x', 'x', 'x'};
    lqft_value_buf tight = {sizeof(lqft_value_buf), small, sizeof small, 0};
    CHECK_STATUS(lqft_txn_get_buf(txn, STR("c"), &tight), LQFT_ERR_BUFFER_TOO_SMALL);
    CHECK(tight.len == 22 && small[0] == 'x');

    /* Misuse. */
    CHECK_STATUS(lqft_txn_get_buf(txn, STR("a"), NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_txn_get_buf(NULL, STR("a"), &buf), LQFT_ERR_NULL_ARGUMENT);
    lqft_value_buf unsized = {0, data, sizeof data, 0};
    CHECK_STATUS(lqft_txn_get_buf(txn, STR("a"), &unsized), LQFT_ERR_INVALID_ARGUMENT);

    /* A key read through the buffer conflicts like any read; after the commit, no more reads. */
    CHECK_OK(lqft_map_put(m, STR("c"), STR("changed")));
    uint64_t applied = 0;
    CHECK_STATUS(lqft_txn_commit(txn, &applied), LQFT_CONFLICT);
    CHECK_STATUS(lqft_txn_get_buf(txn, STR("b"), &buf), LQFT_ERR_INVALID_ARGUMENT);
    lqft_txn_free(txn);
    lqft_map_free(m);
}

static void test_compare_and_swap_and_views(void) {
    lqft_map *m = NULL;
    CHECK_OK(lqft_map_new(&m));
    CHECK_STATUS(lqft_map_compare_and_swap(m, STR("k"), STR("v"), STR("w"), 0), LQFT_CONFLICT);
    CHECK_OK(lqft_map_compare_and_swap(m, STR("k"), NULL, 0, STR("v"), LQFT_CAS_EXPECT_ABSENT));
    CHECK_STATUS(lqft_map_compare_and_swap(m, STR("k"), NULL, 0, STR("x"), LQFT_CAS_EXPECT_ABSENT),
                 LQFT_CONFLICT);
    lqft_view *view = NULL;
    CHECK_OK(lqft_map_view(m, &view));
    CHECK_OK(lqft_map_compare_and_swap(m, STR("k"), STR("v"), NULL, 0, LQFT_CAS_DELETE));
    bool present = true;
    CHECK_OK(lqft_map_contains(m, STR("k"), &present));
    CHECK(!present);
    CHECK_OK(lqft_view_contains(view, STR("k"), &present));
    CHECK(present);
    CHECK_STATUS(lqft_map_compare_and_swap(m, STR("k"), STR("v"), STR("w"), 4),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_compare_and_swap(NULL, STR("k"), STR("v"), STR("w"), 0),
                 LQFT_ERR_NULL_ARGUMENT);

    /* A view's root equals a snapshot's of the same contents; a view registers nothing. */
    CHECK_OK(lqft_map_put(m, STR("k"), STR("v")));
    lqft_view *again = NULL;
    CHECK_OK(lqft_map_view(m, &again));
    size_t count = 9;
    CHECK_OK(lqft_map_snapshot_count(m, &count));
    CHECK(count == 0);
    uint8_t a[LQFT_HASH_LEN], b[LQFT_HASH_LEN];
    CHECK_OK(lqft_view_root_hash(view, a, sizeof a));
    CHECK_OK(lqft_view_root_hash(again, b, sizeof b));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_STATUS(lqft_view_root_hash(view, a, sizeof a - 1), LQFT_ERR_BUFFER_TOO_SMALL);
    lqft_bytes value = {0};
    CHECK_OK(lqft_view_get(again, STR("k"), &value));
    CHECK(bytes_eq(value.ptr, value.len, "v"));
    lqft_bytes_free(&value);
    lqft_view_free(view);
    lqft_view_free(again);
    lqft_view_free(NULL);
    lqft_txn_free(NULL);
    CHECK_STATUS(lqft_txn_begin(m, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_txn_get(NULL, STR("k"), &value), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_view(NULL, &view), LQFT_ERR_NULL_ARGUMENT);
    lqft_map_free(m);
}

int main(void) {
    test_concurrent_updates_lose_nothing();
    test_a_conflicting_commit_changes_nothing();
    test_get_into_a_reusable_buffer();
    test_compare_and_swap_and_views();
    return check_finish("test_txn");
}
