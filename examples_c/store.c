/*
 * store.c — a durable store from C: open a directory, write through the store's map, take a
 * snapshot, checkpoint, read from a read-only opener, close, reopen and find everything again,
 * and back it up.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -std=c99 -Iinclude examples_c/store.c target/release/liblqft.a -lpthread -ldl -lm \
 *      -o store && ./store [DIR]
 *
 * With DIR, the store lives there and a counter in it grows by one each run; without, the
 * example uses a fresh temporary directory and removes it at the end.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#include <ftw.h>
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

#define TEXT(s) (const uint8_t *)(s), strlen(s)

/* The counter under "runs" (0 when absent), stored as decimal text. */
static unsigned long read_runs(const lqft_map *map) {
    char text[32] = {0};
    size_t len = 0;
    lqft_status st = lqft_map_get_into(map, TEXT("runs"), (uint8_t *)text, sizeof text - 1, &len);
    if (st == LQFT_NOT_FOUND) return 0;
    expect(st, LQFT_OK, "get runs");
    return strtoul(text, NULL, 10);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv) {
    char temp[] = "/tmp/lqft-store-example-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(temp);
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }

    /* Options carry their own size, so a newer library can add fields. */
    lqft_store_options options;
    expect(lqft_store_options_init(&options, sizeof options), LQFT_OK, "options");
    options.durability = LQFT_DURABILITY_GROUP; /* acknowledged after a shared fdatasync */

    lqft_store *store = NULL;
    expect(lqft_store_open(dir, &options, &store), LQFT_OK, "open");
    /* A second writer is refused at once. */
    lqft_store *second = NULL;
    expect(lqft_store_open(dir, &options, &second), LQFT_ERR_LOCKED, "second writer");

    /* The store's data is an lqft_map: the whole map API, made durable. */
    lqft_map *map = NULL;
    expect(lqft_store_map(store, &map), LQFT_OK, "map");
    unsigned long runs = read_runs(map) + 1;
    char text[32];
    snprintf(text, sizeof text, "%lu", runs);
    expect(lqft_map_put(map, TEXT("runs"), TEXT(text)), LQFT_OK, "put runs");
    expect(lqft_map_put(map, TEXT("greeting"), TEXT("hello, disk")), LQFT_OK, "put greeting");

    lqft_snapshot *snap = NULL;
    expect(lqft_map_snapshot(map, &snap), LQFT_OK, "snapshot");
    lqft_snapshot_meta meta;
    expect(lqft_snapshot_metadata(snap, &meta), LQFT_OK, "metadata");
    printf("run %lu: snapshot %llu holds %llu entries\n", runs, (unsigned long long)meta.id,
           (unsigned long long)meta.size);
    lqft_snapshot_free(snap);

    /* Checkpoints also run by themselves as the WAL grows; this one is on request. */
    expect(lqft_store_checkpoint(store), LQFT_OK, "checkpoint");
    lqft_bytes stats = {NULL, 0};
    expect(lqft_store_stats_json(store, &stats), LQFT_OK, "stats");
    printf("store stats: %s\n", (const char *)stats.ptr);
    lqft_bytes_free(&stats);

    /* A read-only opener (any process may do this) sees what was committed when it opened,
     * and moves forward on refresh. */
    lqft_store_options ro;
    expect(lqft_store_options_init(&ro, sizeof ro), LQFT_OK, "options");
    ro.read_only = true;
    lqft_store *reader = NULL;
    lqft_map *view = NULL;
    expect(lqft_store_open(dir, &ro, &reader), LQFT_OK, "open read-only");
    expect(lqft_store_map(reader, &view), LQFT_OK, "reader map");
    expect(lqft_map_put(map, TEXT("late"), TEXT("write")), LQFT_OK, "put late");
    bool seen = true;
    expect(lqft_map_contains(view, TEXT("late"), &seen), LQFT_OK, "contains");
    printf("reader sees the late write before refresh: %s\n", seen ? "yes" : "no");
    expect(lqft_store_refresh(reader), LQFT_OK, "refresh");
    expect(lqft_map_contains(view, TEXT("late"), &seen), LQFT_OK, "contains");
    printf("reader sees the late write after refresh: %s\n", seen ? "yes" : "no");
    lqft_map_free(view);
    lqft_store_close(reader);

    /* Close (map handles first: the store's lock is released when all are gone) and reopen. */
    lqft_map_free(map);
    lqft_store_close(store);
    expect(lqft_store_open(dir, NULL, &store), LQFT_OK, "reopen");
    expect(lqft_store_map(store, &map), LQFT_OK, "map");
    printf("after reopening: runs = %lu\n", read_runs(map));

    /* A backup is a store of its own (open it, or back it up again to restore it): the packs
     * the destination lacks, then the manifest, so a crash leaves the destination as it was.
     * A second backup into it copies only what is new. */
    char backup[] = "/tmp/lqft-store-backup-XXXXXX";
    if (!mkdtemp(backup)) {
        perror("mkdtemp");
        return 1;
    }
    lqft_backup_report report = {.size = sizeof report};
    expect(lqft_store_backup(store, backup, &report), LQFT_OK, "backup");
    printf("backup: manifest %llu, %llu packs, %llu copied (%llu bytes)\n",
           (unsigned long long)report.manifest, (unsigned long long)report.packs,
           (unsigned long long)report.packs_copied, (unsigned long long)report.bytes_copied);
    expect(lqft_store_backup(store, backup, &report), LQFT_OK, "backup again");
    printf("backup again: %llu packs copied\n", (unsigned long long)report.packs_copied);
    nftw(backup, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

    lqft_map_free(map);
    lqft_store_close(store);

    if (argc <= 1) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
