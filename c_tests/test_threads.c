/* Four reader threads check snapshots (and the live map) while a writer commits.
 *
 * The writer puts keys "k00000", "k00001", ... in order, each with its key as value, and takes a
 * snapshot every BATCH puts. Any snapshot a reader obtains must therefore hold exactly the keys
 * k0 .. k(n-1) for its size n, with the right values, in key order. */
#include <pthread.h>

#include "check.h"

enum { WRITES = 2000, BATCH = 50, READERS = 4 };

static lqft_map *map;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int writer_done = 0;
/* A snapshot the writer shares with the readers through a cloned handle. */
static lqft_snapshot *published = NULL;

static int done(void) {
    pthread_mutex_lock(&lock);
    int d = writer_done;
    pthread_mutex_unlock(&lock);
    return d;
}

static void key_of(uint64_t i, char *key) { snprintf(key, 16, "k%05u", (unsigned)i); }

static void *writer(void *arg) {
    (void)arg;
    char key[16];
    for (uint64_t i = 0; i < WRITES; i++) {
        key_of(i, key);
        CHECK_OK(lqft_map_put(map, STR(key), STR(key)));
        if ((i + 1) % BATCH == 0) {
            lqft_snapshot *s = NULL;
            CHECK_OK(lqft_map_snapshot(map, &s));
            pthread_mutex_lock(&lock);
            lqft_snapshot_free(published);
            published = s;
            pthread_mutex_unlock(&lock);
            CHECK_OK(lqft_map_compact(map, 3, NULL, NULL));
        }
    }
    pthread_mutex_lock(&lock);
    writer_done = 1;
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Checks one snapshot completely; returns its size. */
static uint64_t check_snapshot(const lqft_snapshot *s) {
    uint64_t n = 0;
    CHECK_OK(lqft_snapshot_len(s, &n));
    CHECK(n % BATCH == 0);
    char key[16];
    const uint8_t *view;
    size_t len;
    for (uint64_t i = 0; i < n; i += 7) {
        key_of(i, key);
        CHECK_OK(lqft_snapshot_get_view(s, STR(key), &view, &len));
        CHECK(bytes_eq(view, len, key));
    }
    key_of(n, key);
    CHECK_STATUS(lqft_snapshot_get_view(s, STR(key), &view, &len), LQFT_NOT_FOUND);
    lqft_iter *it = NULL;
    CHECK_OK(lqft_snapshot_iter(s, &it));
    lqft_entry e;
    uint64_t seen = 0;
    while (lqft_iter_next(it, &e) == LQFT_OK) {
        key_of(seen, key);
        CHECK(bytes_eq(e.key, e.key_len, key));
        seen++;
    }
    CHECK(seen == n);
    lqft_iter_free(it);
    return n;
}

static void *reader(void *arg) {
    (void)arg;
    uint64_t last = 0, rounds = 0;
    while (!done() || rounds < 3) {
        /* A snapshot from the registry... */
        lqft_snapshot *s = NULL;
        if (lqft_map_current_snapshot(map, &s) == LQFT_OK) {
            uint64_t n = check_snapshot(s);
            CHECK(n >= last); /* the current snapshot only grows */
            last = n;
            lqft_snapshot_free(s);
        }
        /* ...one shared by the writer, cloned under the lock and read without it... */
        pthread_mutex_lock(&lock);
        lqft_snapshot *shared = NULL;
        if (published) CHECK_OK(lqft_snapshot_clone(published, &shared));
        pthread_mutex_unlock(&lock);
        if (shared) {
            check_snapshot(shared);
            lqft_snapshot_free(shared);
        }
        /* ...and the live map itself. */
        bool present = false;
        CHECK_OK(lqft_map_contains(map, STR("k00000"), &present));
        rounds++;
    }
    return NULL;
}

int main(void) {
    CHECK_OK(lqft_map_new(&map));
    pthread_t w, r[READERS];
    for (int i = 0; i < READERS; i++) CHECK(pthread_create(&r[i], NULL, reader, NULL) == 0);
    CHECK(pthread_create(&w, NULL, writer, NULL) == 0);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);

    uint64_t len = 0;
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == WRITES);
    size_t count = 0;
    CHECK_OK(lqft_map_snapshot_count(map, &count));
    CHECK(count == 3);
    lqft_snapshot_free(published);
    lqft_map_free(map);
    return check_finish("test_threads");
}
