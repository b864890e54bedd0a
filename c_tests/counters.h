/* Counters stored as 8-byte native-endian values, and the transfer between two of them that
 * the transaction tests (plain and sharded maps) run from several threads. */
#ifndef LQFT_COUNTERS_H
#define LQFT_COUNTERS_H

#include <stdint.h>

#include "check.h"

/* A counter's value; a value that is not 8 bytes long fails a check and reads as 0. */
static inline uint64_t decode(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    CHECK(n == sizeof v);
    if (n == sizeof v) memcpy(&v, p, sizeof v);
    return v;
}

/* Moves up to `most` from counter `from` to counter `to` in one transaction on `map`,
 * beginning again on LQFT_CONFLICT until a commit succeeds. */
static inline void transfer(lqft_map *map, const char *from, const char *to, uint64_t most) {
    for (;;) {
        lqft_txn *txn = NULL;
        CHECK_OK(lqft_txn_begin(map, &txn));
        lqft_bytes va = {0}, vb = {0};
        CHECK_OK(lqft_txn_get(txn, STR(from), &va));
        CHECK_OK(lqft_txn_get(txn, STR(to), &vb));
        uint64_t x = decode(va.ptr, va.len), y = decode(vb.ptr, vb.len);
        lqft_bytes_free(&va);
        lqft_bytes_free(&vb);
        uint64_t amount = x < most ? x : most;
        x -= amount, y += amount;
        CHECK_OK(lqft_txn_put(txn, STR(from), (const uint8_t *)&x, sizeof x));
        CHECK_OK(lqft_txn_put(txn, STR(to), (const uint8_t *)&y, sizeof y));
        lqft_status status = lqft_txn_commit(txn, NULL);
        lqft_txn_free(txn);
        if (status == LQFT_OK) return;
        CHECK_STATUS(status, LQFT_CONFLICT);
    }
}

#endif
