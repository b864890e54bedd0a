/*
 * quickstart.c — the liblqft C API in one page: put, get, snapshot, rollback, diff, stats.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -std=c99 -Iinclude examples_c/quickstart.c target/release/liblqft.a -lpthread -ldl -lm \
 *      -o quickstart && ./quickstart
 *
 * Every lqft_* function that can fail returns an lqft_status: LQFT_OK (0), a positive outcome
 * such as LQFT_NOT_FOUND, or a negative LQFT_ERR_* code with details in
 * lqft_last_error_message(). This example stops at the first unexpected status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lqft.h"

/* Aborts with the library's explanation when a call does not return what we expect. */
static void expect(lqft_status got, lqft_status want, const char *what) {
    if (got != want) {
        fprintf(stderr, "%s: %s (%s)\n", what, lqft_status_str(got), lqft_last_error_message());
        exit(1);
    }
}

/* Keys and values are (pointer, length) pairs of arbitrary bytes; this turns a C string into
 * one (without its NUL). */
#define TEXT(s) (const uint8_t *)(s), strlen(s)

/* Prints the value under `key` in the live state, or "(absent)". */
static void show(const lqft_map *map, const char *key) {
    lqft_bytes value = {NULL, 0}; /* filled by the library, freed with lqft_bytes_free */
    lqft_status st = lqft_map_get(map, TEXT(key), &value);
    if (st == LQFT_NOT_FOUND) {
        printf("  %-8s (absent)\n", key);
        return;
    }
    expect(st, LQFT_OK, "get");
    printf("  %-8s %.*s\n", key, (int)value.len, (const char *)value.ptr);
    lqft_bytes_free(&value);
}

int main(void) {
    printf("liblqft %s\n", lqft_version());

    /* 1. A map, and some writes. */
    lqft_map *map = NULL;
    expect(lqft_map_new(&map), LQFT_OK, "new");
    expect(lqft_map_put(map, TEXT("color"), TEXT("red")), LQFT_OK, "put");
    expect(lqft_map_put(map, TEXT("size"), TEXT("large")), LQFT_OK, "put");

    /* 2. A snapshot: O(1), immutable, unaffected by later writes. */
    lqft_snapshot *v1 = NULL;
    expect(lqft_map_snapshot(map, &v1), LQFT_OK, "snapshot");

    /* 3. More writes; the snapshot still sees the old values. Binary keys are fine too. */
    expect(lqft_map_put(map, TEXT("color"), TEXT("blue")), LQFT_OK, "put");
    expect(lqft_map_delete(map, TEXT("size")), LQFT_OK, "delete");
    const uint8_t binary_key[] = {'i', 'd', 0, 42};
    expect(lqft_map_put(map, binary_key, sizeof binary_key, TEXT("binary")), LQFT_OK, "put");

    printf("live state:\n");
    show(map, "color");
    show(map, "size");

    /* A zero-copy read from the snapshot: the view lives as long as the snapshot handle. */
    const uint8_t *view = NULL;
    size_t view_len = 0;
    expect(lqft_snapshot_get_view(v1, TEXT("color"), &view, &view_len), LQFT_OK, "get_view");
    printf("snapshot v1: color = %.*s\n", (int)view_len, (const char *)view);

    /* 4. Diff v1 against the live state: what changed since the snapshot, in key order. */
    lqft_diff *diff = NULL;
    expect(lqft_map_diff_live(map, v1, &diff), LQFT_OK, "diff");
    printf("changes since v1:\n");
    lqft_diff_entry change;
    while (lqft_diff_next(diff, &change) == LQFT_OK) {
        const char *kind = change.kind == LQFT_DIFF_ADDED     ? "added"
                           : change.kind == LQFT_DIFF_REMOVED ? "removed"
                                                              : "changed";
        printf("  %-8s %zu-byte key\n", kind, change.key_len);
    }
    lqft_diff_free(diff);

    /* 5. Rollback. The writes since v1 are uncommitted: LQFT_ROLLBACK_FAIL refuses to lose
     * them, LQFT_ROLLBACK_DISCARD drops them and says how many. */
    uint64_t discarded = 0;
    expect(lqft_map_rollback(map, v1, LQFT_ROLLBACK_FAIL, &discarded), LQFT_ERR_PENDING_CHANGES,
           "rollback (fail)");
    printf("rollback refused: %s\n", lqft_last_error_message());
    expect(lqft_map_rollback(map, v1, LQFT_ROLLBACK_DISCARD, &discarded), LQFT_OK, "rollback");
    printf("rolled back to v1, discarding %llu write(s):\n", (unsigned long long)discarded);
    show(map, "color");
    show(map, "size");

    /* 6. Metadata and the Merkle root: equal contents always give an equal root. */
    lqft_snapshot_meta meta;
    expect(lqft_snapshot_metadata(v1, &meta), LQFT_OK, "metadata");
    uint8_t root[LQFT_HASH_LEN];
    expect(lqft_snapshot_root_hash(v1, root, sizeof root), LQFT_OK, "root_hash");
    printf("v1: id %llu, %llu entries, root ", (unsigned long long)meta.id,
           (unsigned long long)meta.size);
    for (int i = 0; i < 8; i++) printf("%02x", root[i]);
    printf("...\n");

    /* 7. Counted statistics as JSON (NUL-terminated, freed with lqft_bytes_free). */
    lqft_bytes stats = {NULL, 0};
    expect(lqft_map_stats_json(map, &stats), LQFT_OK, "stats");
    printf("stats: %.120s...\n", (const char *)stats.ptr);
    lqft_bytes_free(&stats);

    /* Handles are freed in any order: a snapshot outlives its map. */
    lqft_map_free(map);
    lqft_snapshot_free(v1);
    return 0;
}
