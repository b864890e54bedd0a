/* Portable snapshot files: key pairs, signed save, verified load, bundles, inspect, and the
 * statuses of every failure (I/O, corrupt, policy with its code, duplicate snapshot). */
#include <unistd.h>

#include "check.h"

static char dir[64];

/* Paths inside the temporary directory; each name gets its own slot, kept until exit. */
static const char *in_dir(const char *name) {
    static char paths[16][128];
    static const char *names[16];
    static int used = 0;
    for (int i = 0; i < used; i++)
        if (strcmp(names[i], name) == 0) return paths[i];
    if (used == 16) abort();
    names[used] = name;
    snprintf(paths[used], sizeof paths[used], "%s/%s", dir, name);
    return paths[used++];
}

static void hash_of(const lqft_snapshot *s, uint8_t out[LQFT_HASH_LEN]) {
    CHECK_OK(lqft_snapshot_root_hash(s, out, LQFT_HASH_LEN));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lqft-files-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);

    /* Key pairs. */
    lqft_bytes json = {NULL, 0};
    const char *priv = in_dir("signer.pem"), *pub = in_dir("signer.pub.pem");
    CHECK_OK(lqft_keypair_generate(priv, pub, false, &json));
    CHECK(json.ptr && strstr((const char *)json.ptr, "\"key_id\":\"sha256:") != NULL);
    lqft_bytes_free(&json);
    CHECK(access(priv, R_OK) == 0 && access(pub, R_OK) == 0);
    CHECK(lqft_keypair_generate(priv, pub, false, NULL) < 0); /* existing files are refused */
    CHECK_OK(lqft_keypair_generate(priv, pub, true, NULL));
    CHECK_STATUS(lqft_keypair_generate(priv, priv, true, NULL), LQFT_ERR_INVALID_ARGUMENT);
    const char *other_priv = in_dir("other.pem"), *other_pub = in_dir("other.pub.pem");
    CHECK_OK(lqft_keypair_generate(other_priv, other_pub, false, NULL));

    /* A map with binary data, two snapshots. */
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    const uint8_t bin_key[] = {0, 1, 2, 0xff};
    const uint8_t bin_val[] = {0xfe, 0, 0x80};
    CHECK_OK(lqft_map_put(map, bin_key, sizeof bin_key, bin_val, sizeof bin_val));
    CHECK_OK(lqft_map_put(map, STR("text"), STR("hello")));
    lqft_snapshot *s1 = NULL, *s2 = NULL;
    CHECK_OK(lqft_map_snapshot(map, &s1));
    CHECK_OK(lqft_map_put(map, STR("text"), STR("world")));
    CHECK_OK(lqft_map_snapshot(map, &s2));

    /* Save: signed with a validity window; unsigned; gzip. */
    const char *signed_file = in_dir("s1.json"), *plain_file = in_dir("plain.json");
    lqft_save_options sign = {priv, 3600};
    CHECK_OK(lqft_snapshot_save(s1, signed_file, &sign));
    CHECK_OK(lqft_snapshot_save(s1, plain_file, NULL));
    CHECK_OK(lqft_snapshot_save(s2, in_dir("s2.json.gz"), &sign));

    /* Verified load into another map keeps the contents, the root and the metadata. */
    lqft_verify_options verify = {pub, NULL, false, 0};
    lqft_map *copy = NULL;
    CHECK_OK(lqft_map_new(&copy));
    lqft_snapshot *loaded = NULL;
    CHECK_OK(lqft_map_load_snapshot(copy, signed_file, &verify, true, LQFT_ROLLBACK_FAIL, &loaded));
    uint8_t h_orig[LQFT_HASH_LEN], h_loaded[LQFT_HASH_LEN];
    hash_of(s1, h_orig);
    hash_of(loaded, h_loaded);
    CHECK(memcmp(h_orig, h_loaded, LQFT_HASH_LEN) == 0);
    lqft_snapshot_meta m1, ml;
    CHECK_OK(lqft_snapshot_metadata(s1, &m1));
    CHECK_OK(lqft_snapshot_metadata(loaded, &ml));
    CHECK(m1.id == ml.id && m1.size == ml.size && m1.generation == ml.generation);
    lqft_bytes v = {NULL, 0};
    CHECK_OK(lqft_map_get(copy, bin_key, sizeof bin_key, &v)); /* activated: live state */
    CHECK(v.len == sizeof bin_val && memcmp(v.ptr, bin_val, sizeof bin_val) == 0);
    lqft_bytes_free(&v);
    lqft_snapshot_free(loaded);

    /* The same snapshot id again: duplicate, map unchanged. */
    CHECK_STATUS(lqft_map_load_snapshot(copy, signed_file, &verify, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_DUPLICATE_SNAPSHOT);
    /* gzip round trip, without activation. */
    CHECK_OK(lqft_map_load_snapshot(copy, in_dir("s2.json.gz"), &verify, false,
                                    LQFT_ROLLBACK_FAIL, NULL));

    /* Verification failures: LQFT_ERR_POLICY with LQFT's policy code leading the message. */
    lqft_map *target = NULL;
    CHECK_OK(lqft_map_new(&target));
    lqft_verify_options wrong = {other_pub, NULL, false, 0};
    CHECK_STATUS(lqft_map_load_snapshot(target, signed_file, &wrong, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_POLICY);
        CHECK(last_error_has("lqft_map_load_snapshot: verification_"));
    CHECK_STATUS(lqft_map_load_snapshot(target, plain_file, &verify, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_POLICY);
    CHECK(last_error_has("verification_unsigned: "));
    lqft_verify_options fresh = {pub, NULL, true, 7200};
    CHECK_STATUS(lqft_map_load_snapshot(target, signed_file, &fresh, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_POLICY);
        CHECK(last_error_has("freshness"));
    fresh.min_remaining_validity_seconds = 60;
    CHECK_OK(lqft_map_load_snapshot(target, signed_file, &fresh, false, LQFT_ROLLBACK_FAIL, NULL));

    /* I/O and corrupt files. */
    CHECK_STATUS(lqft_map_load_snapshot(target, in_dir("missing.json"), NULL, false,
                                        LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_IO);
    /* A path whose parent is a regular file cannot be written. */
    CHECK_STATUS(lqft_snapshot_save(s1, in_dir("s1.json/child.json"), NULL), LQFT_ERR_IO);
    const char *garbage = in_dir("garbage.json");
    FILE *f = fopen(garbage, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{ this is not json", f);
        fclose(f);
    }
    CHECK_STATUS(lqft_map_load_snapshot(target, garbage, NULL, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_CORRUPT);
    CHECK_STATUS(lqft_map_load_snapshot(target, signed_file, NULL, false, 9, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    lqft_map_free(target);

    /* Bundles: all registered snapshots, all or none, activating the current one. */
    const char *bundle = in_dir("bundle.json");
    CHECK_OK(lqft_map_save_bundle(map, bundle, &sign));
    lqft_map *restored = NULL;
    CHECK_OK(lqft_map_new(&restored));
    CHECK_OK(lqft_map_put(restored, STR("pending"), STR("write")));
    lqft_ids ids = {NULL, 0};
    CHECK_STATUS(lqft_map_load_bundle(restored, bundle, &verify, true, LQFT_ROLLBACK_FAIL, &ids),
                 LQFT_ERR_PENDING_CHANGES);
    CHECK_OK(lqft_map_load_bundle(restored, bundle, &verify, true, LQFT_ROLLBACK_DISCARD, &ids));
    CHECK(ids.len == 2);
    lqft_ids_free(&ids);
    CHECK_OK(lqft_map_get(restored, STR("text"), &v));
    CHECK(bytes_eq(v.ptr, v.len, "world"));
    lqft_bytes_free(&v);
    CHECK_STATUS(lqft_map_load_bundle(restored, bundle, &verify, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_DUPLICATE_SNAPSHOT);
    lqft_map_free(restored);

    /* Inspect: a report even when the policy fails. */
    CHECK_OK(lqft_file_inspect(signed_file, &verify, &json));
    CHECK(json.ptr && strstr((const char *)json.ptr, "\"policy_check\"") != NULL);
    lqft_bytes_free(&json);
    CHECK_OK(lqft_file_inspect(signed_file, &wrong, &json));
    lqft_bytes_free(&json);
    CHECK_OK(lqft_file_inspect(signed_file, NULL, &json));
    lqft_bytes_free(&json);
    CHECK_STATUS(lqft_file_inspect(in_dir("missing.json"), NULL, &json), LQFT_ERR_IO);

    /* NULL arguments. */
    lqft_snapshot *snap_out = NULL;
    CHECK_STATUS(lqft_snapshot_save(NULL, plain_file, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_snapshot_save(s1, NULL, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_save_bundle(NULL, bundle, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_save_bundle(map, NULL, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_load_snapshot(NULL, plain_file, NULL, false, 0, &snap_out),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_load_snapshot(map, NULL, NULL, false, 0, &snap_out),
                 LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_load_bundle(NULL, bundle, NULL, false, 0, &ids), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_load_bundle(map, NULL, NULL, false, 0, &ids), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_file_inspect(NULL, NULL, &json), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_file_inspect(plain_file, NULL, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_keypair_generate(NULL, pub, true, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_keypair_generate(priv, NULL, true, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_snapshot_save(s1, "", NULL), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(snap_out == NULL && ids.ptr == NULL && json.ptr == NULL);

    lqft_snapshot_free(s1);
    lqft_snapshot_free(s2);
    lqft_map_free(copy);
    lqft_map_free(map);

    /* Clean up the temporary directory. */
    const char *files[] = {"signer.pem", "signer.pub.pem", "other.pem", "other.pub.pem", "s1.json",
                           "plain.json", "s2.json.gz", "garbage.json", "bundle.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) unlink(in_dir(files[i]));
    rmdir(dir);
    return check_finish("test_files");
}
