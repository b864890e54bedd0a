/*
 * iterate.c — ordered scans with liblqft: everything, a key range, a prefix, backwards, and
 * over a snapshot.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -std=c99 -Iinclude examples_c/iterate.c target/release/liblqft.a -lpthread -ldl -lm \
 *      -o iterate && ./iterate
 *
 * Iteration is in key byte order. An iterator owns the version it walks: writes made after it
 * was created do not show, and it stays valid after its map or snapshot is freed. The key and
 * value pointers in an lqft_entry are borrowed views that stay valid until the next
 * lqft_iter_next on the same iterator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lqft.h"

static void expect(lqft_status got, lqft_status want, const char *what) {
    if (got != want) {
        fprintf(stderr, "%s: %s (%s)\n", what, lqft_status_str(got), lqft_last_error_message());
        exit(1);
    }
}

#define TEXT(s) (const uint8_t *)(s), strlen(s)

/* Prints every entry of `it` (forwards) under `title`, then frees the iterator. */
static void print_all(const char *title, lqft_iter *it) {
    printf("%s:\n", title);
    lqft_entry e;
    lqft_status st;
    while ((st = lqft_iter_next(it, &e)) == LQFT_OK)
        printf("  %.*s = %.*s\n", (int)e.key_len, (const char *)e.key, (int)e.value_len,
               (const char *)e.value);
    expect(st, LQFT_DONE, "iter_next"); /* LQFT_DONE marks the end */
    lqft_iter_free(it);
}

int main(void) {
    lqft_map *map = NULL;
    expect(lqft_map_new(&map), LQFT_OK, "new");
    const char *users[] = {"user:carol", "user:alice", "user:bob", "group:admins", "user:dave"};
    for (size_t i = 0; i < sizeof users / sizeof *users; i++) {
        char value[32];
        snprintf(value, sizeof value, "#%zu", i);
        expect(lqft_map_put(map, TEXT(users[i]), TEXT(value)), LQFT_OK, "put");
    }

    lqft_iter *it = NULL;

    /* Everything, in key order. */
    expect(lqft_map_iter(map, &it), LQFT_OK, "iter");
    print_all("all entries", it);

    /* A half-open range [start, end): here user:b <= key < user:d. */
    expect(lqft_map_range(map, TEXT("user:b"), TEXT("user:d"), &it), LQFT_OK, "range");
    print_all("range [user:b, user:d)", it);

    /* Every key that starts with a prefix. */
    expect(lqft_map_prefix(map, TEXT("user:"), &it), LQFT_OK, "prefix");
    print_all("prefix user:", it);

    /* Backwards: lqft_iter_next_back takes entries from the end. */
    expect(lqft_map_prefix(map, TEXT("user:"), &it), LQFT_OK, "prefix");
    printf("prefix user:, newest key first:\n");
    lqft_entry e;
    while (lqft_iter_next_back(it, &e) == LQFT_OK)
        printf("  %.*s\n", (int)e.key_len, (const char *)e.key);
    lqft_iter_free(it);

    /* Over a snapshot, after the live map has changed and even after the map is gone. */
    lqft_snapshot *snap = NULL;
    expect(lqft_map_snapshot(map, &snap), LQFT_OK, "snapshot");
    expect(lqft_map_clear(map, NULL), LQFT_OK, "clear");
    lqft_map_free(map);
    expect(lqft_snapshot_prefix(snap, TEXT("group:"), &it), LQFT_OK, "snapshot prefix");
    lqft_snapshot_free(snap); /* the iterator keeps the version alive */
    print_all("snapshot, prefix group: (map already freed)", it);
    return 0;
}
