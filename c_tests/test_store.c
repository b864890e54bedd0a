/* The durable store through the C ABI: options and their size field, open and close, the
 * writer lock, read-only openers, sync, checkpoint, refresh, stats, the store's map handle
 * (data and snapshots surviving reopen, use after close), bulk load, damaged nodes met by reads,
 * walks, diffs and saves, backups (incremental, restored from a read-only open, refused by a
 * store), and bad arguments. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes the directory `dir` and everything in it. */
static void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void test_options_init(void) {
    lqft_store_options options;
    memset(&options, 0xAB, sizeof options);
    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    CHECK(options.struct_size == sizeof options);
    CHECK(options.durability == LQFT_DURABILITY_SYNC);
    CHECK(options.async_interval_ms == 100);
    CHECK(options.checkpoint_bytes == 64u << 20);
    CHECK(options.segment_bytes == 16u << 20);
    CHECK(options.cache_bytes == 0);
    CHECK(!options.read_only);

    CHECK_STATUS(lqft_store_options_init(NULL, sizeof options), LQFT_ERR_NULL_ARGUMENT);
    memset(&options, 0xAB, sizeof options);
    CHECK_STATUS(lqft_store_options_init(&options, sizeof options - 1), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("struct_size"));
    CHECK(options.struct_size != sizeof options); /* untouched on error */
    CHECK_STATUS(lqft_store_options_init(&options, 1 << 20), LQFT_ERR_INVALID_ARGUMENT);
}

/* A struct from a newer header: this library's fields, then one it does not know. */
struct newer_options {
    lqft_store_options known;
    uint64_t future;
};

static void test_options_sizes(const char *dir) {
    lqft_store *store = NULL;

    struct newer_options newer;
    memset(&newer, 0xAB, sizeof newer);
    CHECK_OK(lqft_store_options_init(&newer.known, sizeof newer));
    CHECK(newer.known.struct_size == sizeof newer);
    CHECK(newer.future == 0); /* unknown bytes are zeroed */
    CHECK_OK(lqft_store_open(dir, &newer.known, &store));
    lqft_store_close(store);

    newer.future = 1; /* a feature this library lacks: refused, not ignored */
    store = (lqft_store *)0x1;
    CHECK_STATUS(lqft_store_open(dir, &newer.known, &store), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("newer liblqft"));
    CHECK(store == (lqft_store *)0x1); /* outputs only on success */

    lqft_store_options options;
    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    options.struct_size = sizeof options - 8; /* an older or uninitialised struct */
    CHECK_STATUS(lqft_store_open(dir, &options, &store), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("lqft_store_options_init"));
    options.struct_size = 0;
    CHECK_STATUS(lqft_store_open(dir, &options, &store), LQFT_ERR_INVALID_ARGUMENT);
    options.struct_size = (size_t)1 << 40;
    CHECK_STATUS(lqft_store_open(dir, &options, &store), LQFT_ERR_INVALID_ARGUMENT);
}

static void test_option_values(const char *dir) {
    lqft_store *store = NULL;
    lqft_store_options options;

    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    options.durability = 9;
    CHECK_STATUS(lqft_store_open(dir, &options, &store), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("durability"));

    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    options.durability = LQFT_DURABILITY_ASYNC;
    options.async_interval_ms = 0;
    CHECK_STATUS(lqft_store_open(dir, &options, &store), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("async_interval_ms"));

    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    options.segment_bytes = 0;
    CHECK_STATUS(lqft_store_open(dir, &options, &store), LQFT_ERR_INVALID_ARGUMENT);

    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    memset(&options.read_only, 2, 1); /* neither true nor false */
    CHECK_STATUS(lqft_store_open(dir, &options, &store), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("read_only"));

    /* Every mode opens. */
    const lqft_durability modes[] = {LQFT_DURABILITY_SYNC, LQFT_DURABILITY_GROUP,
                                     LQFT_DURABILITY_ASYNC, LQFT_DURABILITY_NONE};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        CHECK_OK(lqft_store_options_init(&options, sizeof options));
        options.durability = modes[i];
        options.async_interval_ms = 5;
        store = NULL;
        CHECK_OK(lqft_store_open(dir, &options, &store));
        CHECK_OK(lqft_store_sync(store));
        lqft_store_close(store);
    }
}

static void test_lock_and_readers(const char *dir) {
    lqft_store *writer = NULL, *second = (lqft_store *)0x1, *reader = NULL;
    CHECK_OK(lqft_store_open(dir, NULL, &writer));

    CHECK_STATUS(lqft_store_open(dir, NULL, &second), LQFT_ERR_LOCKED);
    CHECK(last_error_has("LOCK"));
    CHECK(second == (lqft_store *)0x1);

    lqft_store_options options;
    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    options.read_only = true;
    CHECK_OK(lqft_store_open(dir, &options, &reader));
    CHECK_OK(lqft_store_refresh(reader));
    CHECK_OK(lqft_store_sync(reader));
    CHECK_STATUS(lqft_store_checkpoint(reader), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("read-only"));

    lqft_bytes stats = {0};
    CHECK_OK(lqft_store_stats_json(reader, &stats));
    CHECK(strstr((const char *)stats.ptr, "\"read_only\":true") != NULL);
    lqft_bytes_free(&stats);

    CHECK_OK(lqft_store_checkpoint(writer));
    CHECK_OK(lqft_store_refresh(writer)); /* a no-op for the writer */
    CHECK_OK(lqft_store_stats_json(writer, &stats));
    CHECK(strstr((const char *)stats.ptr, "\"format\":\"lqft-store-stats-v1\"") != NULL);
    CHECK(strstr((const char *)stats.ptr, "\"read_only\":false") != NULL);
    CHECK(stats.len == strlen((const char *)stats.ptr));
    lqft_bytes_free(&stats);

    /* Closing releases the lock: the next writer gets it. */
    lqft_store_close(writer);
    CHECK_OK(lqft_store_open(dir, NULL, &second));
    lqft_store_close(second);
    lqft_store_close(reader);
}

static void test_bad_arguments(const char *dir) {
    lqft_store *store = (lqft_store *)0x1;
    CHECK_STATUS(lqft_store_open(NULL, NULL, &store), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_store_open("", NULL, &store), LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_store_open(dir, NULL, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK(store == (lqft_store *)0x1);

    /* A read-only opener does not create the directory. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    lqft_store_options options;
    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    options.read_only = true;
    CHECK_STATUS(lqft_store_open(missing, &options, &store), LQFT_ERR_IO);
    CHECK(access(missing, F_OK) != 0);

    CHECK_STATUS(lqft_store_sync(NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_store_checkpoint(NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_store_refresh(NULL), LQFT_ERR_NULL_ARGUMENT);
    lqft_bytes stats = {0};
    CHECK_STATUS(lqft_store_stats_json(NULL, &stats), LQFT_ERR_NULL_ARGUMENT);
    CHECK(stats.ptr == NULL);
    CHECK_OK(lqft_store_open(dir, NULL, &store));
    CHECK_STATUS(lqft_store_stats_json(store, NULL), LQFT_ERR_NULL_ARGUMENT);
    lqft_store_close(store);
    lqft_store_close(NULL);
}

/* Whether `map` holds `value` under `key`. */
static int holds(const lqft_map *map, const char *key, const char *value) {
    lqft_bytes got = {0};
    lqft_status status = lqft_map_get(map, STR(key), &got);
    int ok = status == LQFT_OK && bytes_eq(got.ptr, got.len, value);
    if (status == LQFT_OK) lqft_bytes_free(&got);
    return ok;
}

static void test_data_survives_reopen(const char *dir) {
    lqft_store *store = NULL;
    lqft_map *map = NULL;
    CHECK_OK(lqft_store_open(dir, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    CHECK_OK(lqft_map_put(map, STR("alpha"), STR("1")));
    CHECK_OK(lqft_map_put(map, (const uint8_t *)"b\0k", 3, STR("binary key")));
    lqft_snapshot *first = NULL;
    CHECK_OK(lqft_map_snapshot(map, &first));
    lqft_snapshot_meta meta;
    CHECK_OK(lqft_snapshot_metadata(first, &meta));
    uint64_t first_id = meta.id;
    uint8_t first_root[32];
    CHECK_OK(lqft_snapshot_root_hash(first, first_root, sizeof first_root));
    CHECK_OK(lqft_map_put(map, STR("alpha"), STR("2")));
    CHECK_OK(lqft_map_delete(map, (const uint8_t *)"b\0k", 3));
    CHECK_OK(lqft_store_checkpoint(store));
    CHECK_OK(lqft_map_put(map, STR("gamma"), STR("3"))); /* in the WAL only */
    lqft_snapshot_free(first);
    lqft_map_free(map);
    lqft_store_close(store);

    store = NULL;
    map = NULL;
    CHECK_OK(lqft_store_open(dir, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    CHECK(holds(map, "alpha", "2"));
    CHECK(holds(map, "gamma", "3"));
    bool present = true;
    CHECK_OK(lqft_map_contains(map, (const uint8_t *)"b\0k", 3, &present));
    CHECK(!present);
    uint64_t len = 0;
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 2);

    /* The snapshot came back with its id, contents and root. */
    lqft_snapshot *again = NULL;
    CHECK_OK(lqft_map_snapshot_by_id(map, first_id, &again));
    lqft_bytes value = {0};
    CHECK_OK(lqft_snapshot_get(again, STR("alpha"), &value));
    CHECK(bytes_eq(value.ptr, value.len, "1"));
    lqft_bytes_free(&value);
    CHECK_OK(lqft_snapshot_get(again, (const uint8_t *)"b\0k", 3, &value));
    CHECK(bytes_eq(value.ptr, value.len, "binary key"));
    lqft_bytes_free(&value);
    uint8_t root[32];
    CHECK_OK(lqft_snapshot_root_hash(again, root, sizeof root));
    CHECK(memcmp(root, first_root, sizeof root) == 0);

    /* Rollback is durable too. */
    uint64_t discarded = 0;
    CHECK_OK(lqft_map_rollback(map, again, LQFT_ROLLBACK_DISCARD, &discarded));
    lqft_snapshot_free(again);
    lqft_map_free(map);
    lqft_store_close(store);

    CHECK_OK(lqft_store_open(dir, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    CHECK(holds(map, "alpha", "1"));
    CHECK_STATUS(lqft_map_get(map, STR("gamma"), &value), LQFT_NOT_FOUND);
    lqft_map_free(map);
    lqft_store_close(store);
}

/* A bulk load is one atomic change, durable when it returns, beside writes through the map: a
 * key put twice takes its last value, the same load again changes nothing, a batch with a
 * delete is refused (changing nothing), and a reopen sees it all. */
static void test_bulk_load(const char *dir) {
    char path[700];
    snprintf(path, sizeof path, "%s-load", dir);
    lqft_store *store = NULL;
    lqft_map *map = NULL;
    lqft_batch *batch = NULL;
    CHECK_OK(lqft_store_open(path, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    CHECK_OK(lqft_map_put(map, STR("logged"), STR("0")));
    CHECK_OK(lqft_batch_new(&batch));
    for (int i = 999; i >= 0; i--) {
        char key[16], value[16];
        snprintf(key, sizeof key, "k%04d", i);
        snprintf(value, sizeof value, "v%d", i);
        CHECK_OK(lqft_batch_put(batch, STR(key), STR(value)));
    }
    CHECK_OK(lqft_batch_put(batch, STR("k0007"), STR("last")));
    uint64_t changed = 0;
    CHECK_OK(lqft_store_load(store, batch, &changed));
    CHECK(changed == 1000);
    CHECK(holds(map, "k0007", "last"));
    CHECK(holds(map, "k0999", "v999"));
    CHECK(holds(map, "logged", "0"));
    CHECK_OK(lqft_store_load(store, batch, &changed));
    CHECK(changed == 0);
    CHECK_OK(lqft_store_load(store, batch, NULL));

    CHECK_OK(lqft_batch_delete(batch, STR("k0001")));
    changed = 77;
    CHECK_STATUS(lqft_store_load(store, batch, &changed), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(changed == 77);
    CHECK(holds(map, "k0001", "v1"));
    CHECK_STATUS(lqft_store_load(NULL, batch, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_store_load(store, NULL, NULL), LQFT_ERR_NULL_ARGUMENT);
    lqft_batch_free(batch);
    lqft_map_free(map);
    lqft_store_close(store);

    store = NULL;
    map = NULL;
    CHECK_OK(lqft_store_open(path, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    uint64_t len = 0;
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 1001);
    CHECK(holds(map, "k0007", "last"));
    CHECK(holds(map, "k0500", "v500"));
    lqft_map_free(map);
    lqft_store_close(store);
}

static void test_reader_refresh_sees_new_commits(const char *dir) {
    lqft_store *writer = NULL, *reader = NULL;
    lqft_map *wmap = NULL, *rmap = NULL;
    CHECK_OK(lqft_store_open(dir, NULL, &writer));
    CHECK_OK(lqft_store_map(writer, &wmap));
    CHECK_OK(lqft_map_put(wmap, STR("seen"), STR("before")));

    lqft_store_options options;
    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    options.read_only = true;
    CHECK_OK(lqft_store_open(dir, &options, &reader));
    CHECK_OK(lqft_store_map(reader, &rmap));
    CHECK(holds(rmap, "seen", "before"));
    CHECK_STATUS(lqft_map_put(rmap, STR("x"), STR("y")), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("read-only"));

    CHECK_OK(lqft_map_put(wmap, STR("seen"), STR("after")));
    CHECK_OK(lqft_map_put(wmap, STR("new"), STR("key")));
    CHECK(holds(rmap, "seen", "before")); /* the state of its open, until refresh */
    CHECK_OK(lqft_store_refresh(reader));
    CHECK(holds(rmap, "seen", "after"));
    CHECK(holds(rmap, "new", "key"));

    /* And across a checkpoint, which retires the WAL the reader had read. */
    CHECK_OK(lqft_store_checkpoint(writer));
    CHECK_OK(lqft_map_put(wmap, STR("later"), STR("too")));
    CHECK_OK(lqft_store_refresh(reader));
    CHECK(holds(rmap, "later", "too"));
    CHECK(holds(rmap, "new", "key"));

    lqft_map_free(rmap);
    lqft_store_close(reader);
    lqft_map_free(wmap);
    lqft_store_close(writer);
}

static void test_map_handle_after_close(const char *dir) {
    lqft_store *store = NULL;
    lqft_map *map = NULL;
    CHECK_OK(lqft_store_open(dir, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    CHECK_OK(lqft_map_put(map, STR("kept"), STR("yes")));
    lqft_snapshot *snap = NULL;
    CHECK_OK(lqft_map_snapshot(map, &snap));
    lqft_store_close(store);

    /* Reads go on; writes fail clearly and change nothing. */
    CHECK(holds(map, "kept", "yes"));
    lqft_bytes value = {0};
    CHECK_OK(lqft_snapshot_get(snap, STR("kept"), &value));
    lqft_bytes_free(&value);
    CHECK_STATUS(lqft_map_put(map, STR("after"), STR("close")), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("closed"));
    CHECK_STATUS(lqft_map_delete(map, STR("kept")), LQFT_ERR_INVALID_ARGUMENT);
    lqft_snapshot *refused = NULL;
    CHECK_STATUS(lqft_map_snapshot(map, &refused), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(refused == NULL);
    CHECK_STATUS(lqft_map_clear(map, NULL), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(holds(map, "kept", "yes"));

    /* The lock stays with the map handle until it is freed. */
    lqft_store *second = NULL;
    CHECK_STATUS(lqft_store_open(dir, NULL, &second), LQFT_ERR_LOCKED);
    lqft_map_free(map);
    CHECK_OK(lqft_store_open(dir, NULL, &second));
    lqft_map *again = NULL;
    CHECK_OK(lqft_store_map(second, &again));
    CHECK(holds(again, "kept", "yes"));
    CHECK_STATUS(lqft_map_get(again, STR("after"), &value), LQFT_NOT_FOUND);
    lqft_store_close(second); /* closing first, freeing the map after, is fine too */
    lqft_map_free(again);
    lqft_snapshot_free(snap);

    CHECK_STATUS(lqft_store_map(NULL, &again), LQFT_ERR_NULL_ARGUMENT);
}

/* A damaged node record is reported by the read that reaches it, never read as data. */
static void test_damaged_node_is_an_error_status(const char *dir) {
    lqft_store *store = NULL;
    lqft_map *map = NULL;
    char key[32], value[32];
    CHECK_OK(lqft_store_open(dir, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    CHECK_OK(lqft_map_clear(map, NULL));
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "key%03d", i);
        snprintf(value, sizeof value, "value%03d", i);
        CHECK_OK(lqft_map_put(map, STR(key), STR(value)));
    }
    lqft_snapshot *taken = NULL; /* current from now on: damaged too */
    CHECK_OK(lqft_map_snapshot(map, &taken));
    lqft_snapshot_free(taken);
    CHECK_OK(lqft_store_checkpoint(store));
    lqft_map_free(map);
    lqft_store_close(store);

    /* The first record of the newest pack (its header is 32 bytes, a frame's length 4). */
    char pack[700];
    unsigned newest = 0;
    for (unsigned id = 1; id < 100; id++) {
        snprintf(pack, sizeof pack, "%s/packs/%010u.0.pack", dir, id);
        if (access(pack, F_OK) == 0) newest = id;
    }
    CHECK(newest > 0);
    snprintf(pack, sizeof pack, "%s/packs/%010u.0.pack", dir, newest);
    FILE *file = fopen(pack, "r+b");
    CHECK(file != NULL);
    if (!file) return;
    unsigned char byte = 0;
    CHECK(fseek(file, 40, SEEK_SET) == 0 && fread(&byte, 1, 1, file) == 1);
    byte ^= 0x20;
    CHECK(fseek(file, 40, SEEK_SET) == 0 && fwrite(&byte, 1, 1, file) == 1);
    fclose(file);

    CHECK_OK(lqft_store_open(dir, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    int damaged = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "key%03d", i);
        snprintf(value, sizeof value, "value%03d", i);
        lqft_bytes got = {0};
        lqft_status status = lqft_map_get(map, STR(key), &got);
        if (status == LQFT_OK) {
            CHECK(bytes_eq(got.ptr, got.len, value));
            lqft_bytes_free(&got);
        } else {
            CHECK_STATUS(status, LQFT_ERR_CORRUPT);
            CHECK(got.ptr == NULL);
            bool present = false;
            CHECK_STATUS(lqft_map_contains(map, STR(key), &present), LQFT_ERR_CORRUPT);
            damaged++;
        }
    }
    CHECK(damaged > 0);
    lqft_map_free(map);
    lqft_store_close(store);
}

/* Walks, diffs, saves and stats that reach a damaged node fail with LQFT_ERR_CORRUPT, never a
 * panic, and write nothing; a walk that failed stays where it was, so trying again fails
 * again. Runs on the store `test_damaged_node_is_an_error_status` damaged (whose current
 * snapshot holds the damaged node). */
static void test_damaged_node_fails_walks_diffs_and_saves(const char *dir, const char *scratch) {
    lqft_store *store = NULL;
    lqft_map *map = NULL;
    CHECK_OK(lqft_store_open(dir, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    lqft_status status;

    /* Forward one by one: the keys before the damaged one, then the error, twice. */
    lqft_iter *iter = NULL;
    CHECK_OK(lqft_map_iter(map, &iter));
    lqft_entry entry, untouched;
    size_t front = 0;
    while ((status = lqft_iter_next(iter, &entry)) == LQFT_OK) front++;
    CHECK_STATUS(status, LQFT_ERR_CORRUPT);
    CHECK(last_error_has("lqft_iter_next"));
    memset(&entry, 0xAB, sizeof entry);
    memcpy(&untouched, &entry, sizeof entry);
    CHECK_STATUS(lqft_iter_next(iter, &entry), LQFT_ERR_CORRUPT);
    CHECK(memcmp(&entry, &untouched, sizeof entry) == 0);

    /* From the back, packed: whole batches down to the damaged node, then the error. */
    uint8_t buf[4096];
    size_t ends[96], count = 0, used = 0, back = 0;
    while ((status = lqft_iter_next_back_packed(iter, buf, sizeof buf, ends, 32, &count, &used)) ==
           LQFT_OK)
        back += count;
    CHECK_STATUS(status, LQFT_ERR_CORRUPT);
    CHECK(back > 0 && front + back < 200);
    count = used = 7;
    CHECK_STATUS(lqft_iter_next_back_packed(iter, buf, sizeof buf, ends, 32, &count, &used),
                 LQFT_ERR_CORRUPT);
    CHECK(count == 7 && used == 7);
    lqft_iter_free(iter);

    /* Diffs from an empty version walk every key. */
    lqft_map *plain = NULL;
    lqft_snapshot *empty = NULL, *snap = NULL;
    CHECK_OK(lqft_map_new(&plain));
    CHECK_OK(lqft_map_snapshot(plain, &empty));
    CHECK_OK(lqft_map_current_snapshot(map, &snap));
    lqft_diff *diff = NULL;
    CHECK_OK(lqft_diff_new(empty, snap, &diff));
    lqft_diff_entry change;
    while ((status = lqft_diff_next(diff, &change)) == LQFT_OK) {
    }
    CHECK_STATUS(status, LQFT_ERR_CORRUPT);
    CHECK_STATUS(lqft_diff_next(diff, &change), LQFT_ERR_CORRUPT);
    lqft_diff_free(diff);
    CHECK_OK(lqft_map_diff_live(map, empty, &diff));
    lqft_diff_kind kinds[32];
    while ((status = lqft_diff_next_packed(diff, buf, sizeof buf, ends, kinds, 32, &count,
                                           &used)) == LQFT_OK) {
    }
    CHECK_STATUS(status, LQFT_ERR_CORRUPT);
    lqft_diff_free(diff);

    /* Saves and exports read the snapshot whole first: no file, no document. */
    char path[700];
    snprintf(path, sizeof path, "%s/damaged.json", scratch);
    CHECK_STATUS(lqft_snapshot_save(snap, path, NULL), LQFT_ERR_CORRUPT);
    CHECK(access(path, F_OK) != 0);
    CHECK_STATUS(lqft_map_save_bundle(map, path, NULL), LQFT_ERR_CORRUPT);
    CHECK(access(path, F_OK) != 0);
    lqft_bytes document = {0};
    CHECK_STATUS(lqft_snapshot_export(snap, NULL, &document), LQFT_ERR_CORRUPT);
    CHECK(document.ptr == NULL);
    CHECK_STATUS(lqft_map_export_bundle(map, NULL, &document), LQFT_ERR_CORRUPT);
    CHECK(document.ptr == NULL);
    CHECK_STATUS(lqft_map_stats_json(map, &document), LQFT_ERR_CORRUPT);
    CHECK(document.ptr == NULL);

    lqft_snapshot_free(snap);
    lqft_snapshot_free(empty);
    lqft_map_free(plain);
    lqft_map_free(map);
    lqft_store_close(store);
}

/* A backup is a store holding the state at the backup (the snapshot with it), a second backup
 * with nothing new copies nothing, a read-only open of the backup backs it up again to restore
 * it, a store open on the destination refuses it, and bad arguments change nothing. */
static void test_backup(const char *scratch) {
    char src[600], dst[600], restored[600], busy[600];
    snprintf(src, sizeof src, "%s/backup-src", scratch);
    snprintf(dst, sizeof dst, "%s/backup-dst", scratch);
    snprintf(restored, sizeof restored, "%s/backup-restored", scratch);
    snprintf(busy, sizeof busy, "%s/backup-busy", scratch);
    lqft_store *store = NULL;
    lqft_map *map = NULL;
    CHECK_OK(lqft_store_open(src, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    CHECK_OK(lqft_map_put(map, STR("alpha"), STR("1")));
    CHECK_OK(lqft_map_put(map, STR("beta"), STR("2")));
    lqft_snapshot *snapshot = NULL;
    CHECK_OK(lqft_map_snapshot(map, &snapshot));
    lqft_snapshot_meta meta;
    CHECK_OK(lqft_snapshot_metadata(snapshot, &meta));
    lqft_snapshot_free(snapshot);
    CHECK_OK(lqft_map_put(map, STR("alpha"), STR("3"))); /* in the WAL only: the backup
                                                            checkpoints first */

    lqft_backup_report report = {.size = sizeof report};
    CHECK_OK(lqft_store_backup(store, dst, &report));
    CHECK(report.packs >= 1 && report.packs_copied == report.packs && report.bytes_copied > 0);
    uint64_t manifest = report.manifest;
    report = (lqft_backup_report){.size = sizeof report};
    CHECK_OK(lqft_store_backup(store, dst, &report));
    CHECK(report.packs_copied == 0 && report.bytes_copied == 0 && report.manifest == manifest);
    CHECK_OK(lqft_store_backup(store, dst, NULL));

    /* Bad arguments: an error status, the report untouched. */
    report = (lqft_backup_report){.size = sizeof report - 1, .manifest = 77};
    CHECK_STATUS(lqft_store_backup(store, dst, &report), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(report.manifest == 77);
    report.size = sizeof report;
    CHECK_STATUS(lqft_store_backup(NULL, dst, &report), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_store_backup(store, NULL, &report), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_store_backup(store, "", &report), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(report.manifest == 77);

    /* A store open on the destination holds its lock; once closed it has a WAL of its own. */
    lqft_store *other = NULL;
    CHECK_OK(lqft_store_open(busy, NULL, &other));
    CHECK_STATUS(lqft_store_backup(store, busy, NULL), LQFT_ERR_LOCKED);
    lqft_store_close(other);
    CHECK_STATUS(lqft_store_backup(store, busy, NULL), LQFT_ERR_INVALID_ARGUMENT);
    lqft_map_free(map);
    lqft_store_close(store);

    /* The backup, opened read-only, holds the state and the snapshot; backed up again, it is
     * restored. */
    lqft_store_options options;
    CHECK_OK(lqft_store_options_init(&options, sizeof options));
    options.read_only = true;
    CHECK_OK(lqft_store_open(dst, &options, &store));
    CHECK_OK(lqft_store_backup(store, restored, NULL));
    lqft_store_close(store);
    CHECK_OK(lqft_store_open(restored, NULL, &store));
    CHECK_OK(lqft_store_map(store, &map));
    CHECK(holds(map, "alpha", "3"));
    CHECK(holds(map, "beta", "2"));
    CHECK_OK(lqft_map_snapshot_by_id(map, meta.id, &snapshot));
    lqft_bytes value = {0};
    CHECK_OK(lqft_snapshot_get(snapshot, STR("alpha"), &value));
    CHECK(bytes_eq(value.ptr, value.len, "1"));
    lqft_bytes_free(&value);
    lqft_snapshot_free(snapshot);
    lqft_map_free(map);
    lqft_store_close(store);
}

int main(void) {
    char dir[] = "/tmp/lqft-c-store-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char store_dir[600];
    snprintf(store_dir, sizeof store_dir, "%s/store", dir);

    test_options_init();
    test_options_sizes(store_dir);
    test_option_values(store_dir);
    test_lock_and_readers(store_dir);
    test_data_survives_reopen(store_dir);
    test_bulk_load(store_dir);
    test_reader_refresh_sees_new_commits(store_dir);
    test_map_handle_after_close(store_dir);
    test_damaged_node_is_an_error_status(store_dir);
    test_damaged_node_fails_walks_diffs_and_saves(store_dir, dir);
    test_backup(dir);
    test_bad_arguments(dir);

    remove_tree(dir);
    return check_finish("test_store");
}
