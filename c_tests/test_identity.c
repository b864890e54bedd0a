/* Snapshot identity: an id names one snapshot of one map, whatever was rolled back to, pinned
 * or loaded; files load under fresh ids on request. */
#include <pthread.h>
#include <unistd.h>

#include "check.h"

static char dir[64];

static const char *in_dir(const char *name) {
    static char paths[8][128];
    static int used = 0;
    if (used == 8) abort();
    snprintf(paths[used], sizeof paths[used], "%s/%s", dir, name);
    return paths[used++];
}

/* Whether the live state of `map` holds `want` under "k". */
static int live_is(lqft_map *map, const char *want) {
    lqft_bytes value = {NULL, 0};
    int same = lqft_map_get(map, STR("k"), &value) == LQFT_OK && bytes_eq(value.ptr, value.len, want);
    lqft_bytes_free(&value);
    return same;
}

static lqft_map *map_with(const char *value) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("k"), STR(value)));
    return map;
}

static uint64_t id_of(const lqft_snapshot *s) {
    lqft_snapshot_meta meta;
    CHECK_OK(lqft_snapshot_metadata(s, &meta));
    return meta.id;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_rollback_to_another_maps_snapshot(void) {
    lqft_map *a = map_with("from a"), *b = map_with("from b");
    lqft_snapshot *theirs = NULL, *ours = NULL, *current = NULL;
    CHECK_OK(lqft_map_snapshot(a, &theirs));
    CHECK_OK(lqft_map_snapshot(b, &ours));
    CHECK(id_of(theirs) == id_of(ours));
    CHECK_OK(lqft_map_rollback(b, theirs, LQFT_ROLLBACK_FAIL, NULL));
    CHECK_OK(lqft_map_current_snapshot(b, &current));
    CHECK(id_of(current) != id_of(ours));
    CHECK(live_is(b, "from a"));

    /* The bundle restores b's current state. */
    const char *bundle = in_dir("b.json");
    CHECK_OK(lqft_map_save_bundle(b, bundle, NULL));
    lqft_map *c = NULL;
    CHECK_OK(lqft_map_new(&c));
    CHECK_OK(lqft_map_load_bundle(c, bundle, NULL, true, LQFT_ROLLBACK_FAIL, NULL));
    CHECK(live_is(c, "from a"));

    /* Pinning a's snapshot on b is refused; compaction keeps b's current snapshot only. */
    lqft_read_session *session = NULL;
    CHECK_STATUS(lqft_map_pin(b, theirs, &session), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(session == NULL);
    lqft_ids pruned = {NULL, 0};
    CHECK_OK(lqft_map_compact(b, 0, &pruned, NULL));
    CHECK(pruned.len == 1 && pruned.ptr[0] == id_of(ours));
    lqft_ids_free(&pruned);

    lqft_snapshot_free(current);
    lqft_snapshot_free(ours);
    lqft_snapshot_free(theirs);
    lqft_map_free(a);
    lqft_map_free(b);
    lqft_map_free(c);
}

static void test_fresh_ids(void) {
    lqft_map *a = map_with("from a"), *b = map_with("from b");
    lqft_snapshot *theirs = NULL, *ours = NULL, *loaded = NULL;
    CHECK_OK(lqft_map_snapshot(a, &theirs));
    CHECK_OK(lqft_map_snapshot(b, &ours));
    const char *file = in_dir("a.json");
    CHECK_OK(lqft_snapshot_save(theirs, file, NULL));

    /* Its id is taken in b: refused, unless loaded under a fresh id. */
    CHECK_STATUS(lqft_map_load_snapshot(b, file, NULL, false, LQFT_ROLLBACK_FAIL, &loaded),
                 LQFT_ERR_DUPLICATE_SNAPSHOT);
    CHECK(last_error_has("LQFT_IDS_FRESH") || last_error_has("fresh"));
    lqft_load_options options = {sizeof options, true, LQFT_ROLLBACK_DISCARD, LQFT_IDS_FRESH};
    CHECK_OK(lqft_map_load_snapshot_with(b, file, NULL, &options, &loaded));
    CHECK(id_of(loaded) == id_of(ours) + 1);
    CHECK(live_is(b, "from a"));
    lqft_snapshot_free(loaded);
    loaded = NULL;

    /* The same for bundles: fresh ids in file order. */
    const char *bundle = in_dir("a-bundle.json");
    CHECK_OK(lqft_map_save_bundle(a, bundle, NULL));
    lqft_ids ids = {NULL, 0};
    CHECK_STATUS(lqft_map_load_bundle(b, bundle, NULL, false, LQFT_ROLLBACK_FAIL, &ids),
                 LQFT_ERR_DUPLICATE_SNAPSHOT);
    CHECK_OK(lqft_map_load_bundle_with(b, bundle, NULL, &options, &ids));
    CHECK(ids.len == 1 && ids.ptr[0] == id_of(ours) + 2);
    lqft_ids_free(&ids);

    /* A wrong size or an unknown choice is refused; NULL options are the defaults. */
    lqft_load_options bad = options;
    bad.size = sizeof bad - 1;
    CHECK_STATUS(lqft_map_load_snapshot_with(b, file, NULL, &bad, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    bad = options;
    bad.ids = 7;
    CHECK_STATUS(lqft_map_load_snapshot_with(b, file, NULL, &bad, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lqft_map_load_snapshot_with(b, file, NULL, NULL, NULL),
                 LQFT_ERR_DUPLICATE_SNAPSHOT);
    CHECK_STATUS(lqft_map_load_snapshot_with(NULL, file, NULL, NULL, NULL),
                 LQFT_ERR_NULL_ARGUMENT);

    lqft_snapshot_free(ours);
    lqft_snapshot_free(theirs);
    lqft_map_free(a);
    lqft_map_free(b);
}

static void test_largest_id(void) {
    const char *file = in_dir("max.json");
    write_file(file, "{\"format\": \"lqft-snapshot-v1\", \"metadata\": "
                     "{\"snapshot_id\": 18446744073709551615}, \"items\": []}");
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_STATUS(lqft_map_load_snapshot(map, file, NULL, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    lqft_load_options options = {sizeof options, false, LQFT_ROLLBACK_FAIL, LQFT_IDS_FRESH};
    lqft_snapshot *loaded = NULL, *next = NULL, *after = NULL;
    CHECK_OK(lqft_map_load_snapshot_with(map, file, NULL, &options, &loaded));
    CHECK_OK(lqft_map_snapshot(map, &next));
    CHECK_OK(lqft_map_snapshot(map, &after));
    CHECK(id_of(loaded) == 1 && id_of(next) == 2 && id_of(after) == 3);
    size_t count = 0;
    CHECK_OK(lqft_map_snapshot_count(map, &count));
    CHECK(count == 3);
    lqft_snapshot_free(loaded);
    lqft_snapshot_free(next);
    lqft_snapshot_free(after);
    lqft_map_free(map);
}

struct taker {
    lqft_map *map;
    volatile int stop;
};

/* Takes snapshots until told to stop, at most 2,000 (a scheduler that runs this thread alone,
 * as valgrind's can, must not grow the registry without bound). */
static void *take_snapshots(void *arg) {
    struct taker *t = arg;
    for (int i = 0; i < 2000 && !__atomic_load_n(&t->stop, __ATOMIC_RELAXED); i++) {
        lqft_snapshot *s = NULL;
        CHECK_OK(lqft_map_snapshot(t->map, &s));
        lqft_snapshot_free(s);
    }
    return NULL;
}

static void test_files_without_ids_while_snapshots_are_taken(void) {
    const char *file = in_dir("no-id.json");
    write_file(file, "{\"format\": \"lqft-snapshot-v1\", \"metadata\": {}, "
                     "\"items\": [{\"key\": \"k\", \"value\": \"v\"}]}");
    struct taker t = {map_with("x"), 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, take_snapshots, &t) == 0);
    for (int i = 0; i < 100; i++)
        CHECK_OK(lqft_map_load_snapshot(t.map, file, NULL, false, LQFT_ROLLBACK_FAIL, NULL));
    __atomic_store_n(&t.stop, 1, __ATOMIC_RELAXED);
    pthread_join(thread, NULL);
    lqft_map_free(t.map);
}

static void test_identical_write_is_not_pending(void) {
    lqft_map *map = map_with("v");
    lqft_snapshot *s = NULL;
    CHECK_OK(lqft_map_snapshot(map, &s));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("v")));
    uint64_t discarded = 99;
    CHECK_OK(lqft_map_rollback(map, s, LQFT_ROLLBACK_FAIL, &discarded));
    CHECK(discarded == 0);
    /* Writes that cancel out lose nothing either. */
    CHECK_OK(lqft_map_put(map, STR("k"), STR("w")));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("v")));
    CHECK_OK(lqft_map_rollback(map, s, LQFT_ROLLBACK_FAIL, NULL));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("w")));
    CHECK_STATUS(lqft_map_rollback(map, s, LQFT_ROLLBACK_FAIL, NULL), LQFT_ERR_PENDING_CHANGES);
    lqft_snapshot_free(s);
    lqft_map_free(map);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lqft-identity-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    test_rollback_to_another_maps_snapshot();
    test_fresh_ids();
    test_largest_id();
    test_files_without_ids_while_snapshots_are_taken();
    test_identical_write_is_not_pending();
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    CHECK(system(command) == 0);
    return check_finish("test_identity");
}
