/* The durable store through the C ABI: options and their size field, open and close, the
 * writer lock, read-only openers, sync, checkpoint, refresh, stats, and bad arguments. */
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
    test_bad_arguments(dir);

    remove_tree(dir);
    return check_finish("test_store");
}
