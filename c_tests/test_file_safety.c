/* What the C API does with the file system: a failing call changes nothing, only regular
 * files are read or replaced (never blocking on a FIFO), modes are kept, caps give
 * LQFT_ERR_LIMIT. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char dir[64];

static const char *in_dir(const char *name) {
    static char paths[32][160];
    static int used = 0;
    if (used == 32) abort();
    snprintf(paths[used], sizeof paths[used], "%s/%s", dir, name);
    return paths[used++];
}

/* The whole content of `path` (at most 4 KiB), or an empty string. */
static const char *slurp(const char *path) {
    static char buf[4][4096];
    static int next = 0;
    char *out = buf[next++ % 4];
    out[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return out;
    size_t n = fread(out, 1, sizeof buf[0] - 1, f);
    out[n] = 0;
    fclose(f);
    return out;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int is_symlink(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static void test_keypair_failures_keep_the_private_key(void) {
    const char *priv = in_dir("k.pem"), *pub = in_dir("k.pub.pem");
    CHECK_OK(lqft_keypair_generate(priv, pub, false, NULL));
    char before[4096];
    snprintf(before, sizeof before, "%s", slurp(priv));
    CHECK(strstr(before, "PRIVATE KEY") != NULL);

    /* The public key cannot be written (its path is a directory): nothing changes. */
    const char *pubdir = in_dir("pubdir");
    CHECK(mkdir(pubdir, 0700) == 0);
    CHECK_STATUS(lqft_keypair_generate(priv, pubdir, true, NULL), LQFT_ERR_IO);
    CHECK(strcmp(slurp(priv), before) == 0);

    /* Two spellings of one file, or a symlinked directory: refused, the key kept. */
    const char *sub = in_dir("d");
    CHECK(mkdir(sub, 0700) == 0);
    const char *dpriv = in_dir("d/k.pem");
    CHECK_OK(lqft_keypair_generate(dpriv, in_dir("d/k.pub.pem"), false, NULL));
    snprintf(before, sizeof before, "%s", slurp(dpriv));
    CHECK_STATUS(lqft_keypair_generate(dpriv, in_dir("d/../d/k.pem"), true, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK(symlink(sub, in_dir("link")) == 0);
    CHECK_STATUS(lqft_keypair_generate(dpriv, in_dir("link/k.pem"), true, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(slurp(dpriv), before) == 0);
    CHECK(strstr(slurp(dpriv), "PRIVATE KEY") != NULL);
}

static void test_saves_keep_modes_and_refuse_non_files(const lqft_snapshot *snap) {
    const char *file = in_dir("private.json");
    write_file(file, "old");
    CHECK(chmod(file, 0600) == 0);
    CHECK_OK(lqft_snapshot_save(snap, file, NULL));
    struct stat st;
    CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600);

    /* A symbolic link is refused, not replaced; its target is untouched. */
    const char *target = in_dir("target.json"), *link = in_dir("link.json");
    write_file(target, "keep");
    CHECK(symlink(target, link) == 0);
    CHECK_STATUS(lqft_snapshot_save(snap, link, NULL), LQFT_ERR_IO);
    CHECK(last_error_has("not a regular file"));
    CHECK(is_symlink(link) && strcmp(slurp(target), "keep") == 0);

    /* A missing directory is an error, and is not created. */
    CHECK_STATUS(lqft_snapshot_save(snap, in_dir("typo/s.json"), NULL), LQFT_ERR_IO);
    CHECK(last_error_has("does not exist"));
    CHECK(access(in_dir("typo"), F_OK) != 0);
}

static void test_fifos_and_devices_are_refused_at_once(void) {
    /* If a call blocked on the FIFO, the alarm would end the test as a failure. */
    alarm(60);
    const char *fifo = in_dir("fifo.json");
    CHECK(mkfifo(fifo, 0600) == 0);
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_STATUS(lqft_map_load_snapshot(map, fifo, NULL, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_IO);
    CHECK(last_error_has("FIFO"));
    lqft_bytes json = {NULL, 0};
    CHECK_STATUS(lqft_file_inspect(fifo, NULL, &json), LQFT_ERR_IO);
    lqft_verify_options fifo_key = {fifo, NULL, false, 0};
    CHECK_STATUS(lqft_map_load_snapshot(map, in_dir("k.pub.pem"), &fifo_key, false,
                                        LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_IO);
    lqft_map_free(map);
    alarm(0);
}

static void test_caps_give_limit(const lqft_snapshot *snap) {
    const char *file = in_dir("s.json");
    CHECK_OK(lqft_snapshot_save(snap, file, NULL));

    /* inspect applies the 64 KiB key-file cap, and refuses a device as a key file. */
    lqft_bytes json = {NULL, 0};
    lqft_verify_options zero = {"/dev/zero", NULL, false, 0};
    CHECK_STATUS(lqft_file_inspect(file, &zero, &json), LQFT_ERR_IO);
    const char *big_key = in_dir("big.key");
    int fd = open(big_key, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 64 * 1024 + 1) == 0);
    close(fd);
    lqft_verify_options big = {big_key, NULL, false, 0};
    CHECK_STATUS(lqft_file_inspect(file, &big, &json), LQFT_ERR_LIMIT);
    CHECK(json.ptr == NULL);

    /* A file over the 1 GiB read cap (sparse: no disk used) is a limit, not corruption. */
    const char *huge = in_dir("huge.json");
    fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, ((off_t)1 << 30) + 1) == 0);
    close(fd);
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_STATUS(lqft_map_load_snapshot(map, huge, NULL, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_LIMIT);
    CHECK(last_error_has("cap"));
    CHECK_STATUS(lqft_file_inspect(huge, NULL, &json), LQFT_ERR_LIMIT);
    CHECK(strcmp(lqft_status_str(LQFT_ERR_LIMIT), "size limit exceeded") == 0);
    lqft_map_free(map);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lqft-file-safety-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);

    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("v")));
    lqft_snapshot *snap = NULL;
    CHECK_OK(lqft_map_snapshot(map, &snap));

    test_keypair_failures_keep_the_private_key();
    test_saves_keep_modes_and_refuse_non_files(snap);
    test_fifos_and_devices_are_refused_at_once();
    test_caps_give_limit(snap);

    lqft_snapshot_free(snap);
    lqft_map_free(map);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    CHECK(system(command) == 0);
    return check_finish("test_file_safety");
}
