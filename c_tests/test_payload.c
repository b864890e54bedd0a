/* Keys given as bytes, explicit validity windows, and snapshot / bundle documents in memory:
 * the same bytes, signatures, checks and statuses as files, and outputs only on success. */
#include <time.h>
#include <unistd.h>

#include "check.h"

static char dir[64];

static const char *in_dir(const char *name) {
    static char paths[12][128];
    static int used = 0;
    if (used == 12) abort();
    snprintf(paths[used], sizeof paths[used], "%s/%s", dir, name);
    return paths[used++];
}

/* The whole content of `path`, malloc'd; its length in *len. */
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static lqft_write_options write_opts(const uint8_t *key, size_t key_len) {
    lqft_write_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.sign_key = key;
    o.sign_key_len = key_len;
    return o;
}

static lqft_verification verify_opts(const uint8_t *key, size_t key_len) {
    lqft_verification v;
    memset(&v, 0, sizeof v);
    v.size = sizeof v;
    v.verify_key = key;
    v.verify_key_len = key_len;
    return v;
}

static void same_root(const lqft_snapshot *a, const lqft_snapshot *b) {
    uint8_t ha[LQFT_HASH_LEN], hb[LQFT_HASH_LEN];
    CHECK_OK(lqft_snapshot_root_hash(a, ha, sizeof ha));
    CHECK_OK(lqft_snapshot_root_hash(b, hb, sizeof hb));
    CHECK(memcmp(ha, hb, sizeof ha) == 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lqft-payload-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    const char *priv = in_dir("k.pem"), *pub = in_dir("k.pub.pem");
    const char *other_priv = in_dir("o.pem"), *other_pub = in_dir("o.pub.pem");
    CHECK_OK(lqft_keypair_generate(priv, pub, false, NULL));
    CHECK_OK(lqft_keypair_generate(other_priv, other_pub, false, NULL));
    size_t priv_len = 0, pub_len = 0, other_pub_len = 0;
    uint8_t *priv_pem = slurp(priv, &priv_len), *pub_pem = slurp(pub, &pub_len);
    uint8_t *other_pem = slurp(other_pub, &other_pub_len);

    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    const uint8_t bin[] = {0, 0xff, 0, 7};
    CHECK_OK(lqft_map_put(map, bin, sizeof bin, bin, sizeof bin));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("v")));
    lqft_snapshot *s = NULL;
    CHECK_OK(lqft_map_snapshot(map, &s));

    /* Export with an Ed25519 key given as bytes and an explicit window: the bytes equal the
     * file saved with the same options. */
    time_t now = time(NULL);
    lqft_write_options w = write_opts(priv_pem, priv_len);
    w.has_not_before = true;
    w.not_before = (int64_t)now - 60;
    w.has_expires_at = true;
    w.expires_at = (int64_t)now + 3600;
    w.has_warn_before_expiry = true;
    w.warn_before_expiry_seconds = 600;
    lqft_bytes doc = {NULL, 0};
    CHECK_OK(lqft_snapshot_export(s, &w, &doc));
    CHECK(doc.ptr && strstr((char *)doc.ptr, "\"warn_before_expiry_seconds\": 600") != NULL);
    const char *file = in_dir("s.json");
    CHECK_OK(lqft_snapshot_save_with(s, file, &w));
    size_t file_len = 0;
    uint8_t *file_bytes = slurp(file, &file_len);
    CHECK(file_len == doc.len && memcmp(file_bytes, doc.ptr, doc.len) == 0);
    free(file_bytes);

    /* Import with the public key as bytes; the snapshot and its root come back. */
    lqft_map *copy = NULL;
    CHECK_OK(lqft_map_new(&copy));
    lqft_verification v = verify_opts(pub_pem, pub_len);
    v.require_freshness = true;
    v.min_remaining_validity_seconds = 60;
    lqft_snapshot *got = NULL;
    CHECK_OK(lqft_map_import_snapshot(copy, doc.ptr, doc.len, &v, NULL, &got));
    same_root(s, got);
    lqft_snapshot_free(got);
    /* The file loads the same way by path with the key as bytes. */
    lqft_load_options fresh_ids = {sizeof(lqft_load_options), true, LQFT_ROLLBACK_FAIL,
                                   LQFT_IDS_FRESH};
    got = NULL;
    CHECK_OK(lqft_map_load_snapshot_verified(copy, file, &v, &fresh_ids, &got));
    CHECK(got != NULL);
    lqft_snapshot_free(got);
    lqft_bytes value = {NULL, 0};
    CHECK_OK(lqft_map_get(copy, bin, sizeof bin, &value)); /* activated */
    lqft_bytes_free(&value);

    /* Failures leave the outputs untouched and the map unchanged. */
    lqft_snapshot *untouched = (lqft_snapshot *)&dir;
    size_t count = 0;
    CHECK_OK(lqft_map_snapshot_count(copy, &count));
    lqft_verification wrong = verify_opts(other_pem, other_pub_len);
    CHECK_STATUS(lqft_map_import_snapshot(copy, doc.ptr, doc.len, &wrong, &fresh_ids, &untouched),
                 LQFT_ERR_POLICY);
    CHECK(strcmp(lqft_last_policy_code(), "verification_signer_identity_mismatch") == 0);
    CHECK(untouched == (lqft_snapshot *)&dir);
    v.min_remaining_validity_seconds = 7200; /* more than the window holds */
    CHECK_STATUS(lqft_map_import_snapshot(copy, doc.ptr, doc.len, &v, &fresh_ids, &untouched),
                 LQFT_ERR_POLICY);
    CHECK(last_error_has("freshness"));
    v.require_freshness = false;
    /* Tampered bytes: the checksum no longer matches. */
    char *tampered = malloc(doc.len + 1);
    memcpy(tampered, doc.ptr, doc.len + 1);
    char *at = strstr(tampered, "\"v\"");
    CHECK(at != NULL);
    if (at) at[1] = 'w';
    CHECK_STATUS(lqft_map_import_snapshot(copy, (uint8_t *)tampered, doc.len, &v, &fresh_ids, NULL),
                 LQFT_ERR_POLICY);
    CHECK(strcmp(lqft_last_policy_code(), "integrity_checksum_mismatch") == 0);
    free(tampered);
    CHECK_STATUS(lqft_map_import_snapshot(copy, STR("{ not json"), NULL, &fresh_ids, NULL),
                 LQFT_ERR_CORRUPT);
    CHECK_STATUS(lqft_map_import_snapshot(copy, NULL, 3, NULL, NULL, NULL), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_map_import_snapshot(copy, NULL, 0, NULL, NULL, NULL), LQFT_ERR_CORRUPT);
    /* The recorded id is used already. */
    CHECK_STATUS(lqft_map_import_snapshot(copy, doc.ptr, doc.len, NULL, NULL, NULL),
                 LQFT_ERR_DUPLICATE_SNAPSHOT);
    size_t count_after = 0;
    CHECK_OK(lqft_map_snapshot_count(copy, &count_after));
    CHECK(count_after == count);

    /* Key given both ways, bad sizes, impossible windows: invalid arguments. */
    lqft_verification both = verify_opts(pub_pem, pub_len);
    both.verify_key_path = pub;
    CHECK_STATUS(lqft_map_import_snapshot(copy, doc.ptr, doc.len, &both, &fresh_ids, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    lqft_verification small = verify_opts(pub_pem, pub_len);
    small.size = sizeof small - 1;
    CHECK_STATUS(lqft_map_import_snapshot(copy, doc.ptr, doc.len, &small, &fresh_ids, NULL),
                 LQFT_ERR_INVALID_ARGUMENT);
    lqft_bytes none = {NULL, 0};
    lqft_write_options bad = w;
    bad.expires_at = bad.not_before;
    CHECK_STATUS(lqft_snapshot_export(s, &bad, &none), LQFT_ERR_INVALID_ARGUMENT);
    bad = write_opts(NULL, 0);
    bad.has_warn_before_expiry = true;
    bad.warn_before_expiry_seconds = 5;
    CHECK_STATUS(lqft_snapshot_export(s, &bad, &none), LQFT_ERR_INVALID_ARGUMENT);
    bad = write_opts(NULL, 0);
    bad.has_expires_at = true;
    bad.expires_at = INT64_MAX;
    CHECK_STATUS(lqft_snapshot_export(s, &bad, &none), LQFT_ERR_INVALID_ARGUMENT);
    bad = write_opts(NULL, 0);
    bad.size = 8;
    CHECK_STATUS(lqft_snapshot_export(s, &bad, &none), LQFT_ERR_INVALID_ARGUMENT);
    bad = write_opts(priv_pem, priv_len);
    bad.sign_key_path = priv;
    CHECK_STATUS(lqft_snapshot_save_with(s, in_dir("both.json"), &bad), LQFT_ERR_INVALID_ARGUMENT);
    CHECK(access(in_dir("both.json"), F_OK) != 0);
    CHECK(none.ptr == NULL);
    CHECK_STATUS(lqft_snapshot_export(NULL, NULL, &none), LQFT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(lqft_snapshot_export(s, NULL, NULL), LQFT_ERR_NULL_ARGUMENT);

    /* An expired window: written, then refused as not currently valid. */
    lqft_write_options expired = write_opts(priv_pem, priv_len);
    expired.has_expires_at = true;
    expired.expires_at = (int64_t)now - 10;
    lqft_bytes old = {NULL, 0};
    CHECK_OK(lqft_snapshot_export(s, &expired, &old));
    lqft_verification plain = verify_opts(pub_pem, pub_len);
    CHECK_STATUS(lqft_map_import_snapshot(copy, old.ptr, old.len, &plain, &fresh_ids, NULL),
                 LQFT_ERR_POLICY);
    CHECK(strcmp(lqft_last_policy_code(), "freshness_not_currently_valid") == 0);
    lqft_bytes_free(&old);

    /* An HMAC secret with an embedded NUL, as bytes: it signs and verifies; a secret that
     * differs after the NUL does not verify. */
    const uint8_t secret[] = {'s', 0, 'x'}, other_secret[] = {'s', 0, 'y'};
    lqft_write_options hw = write_opts(secret, sizeof secret);
    lqft_bytes hdoc = {NULL, 0};
    CHECK_OK(lqft_snapshot_export(s, &hw, &hdoc));
    lqft_verification hv = verify_opts(secret, sizeof secret);
    CHECK_OK(lqft_map_import_snapshot(copy, hdoc.ptr, hdoc.len, &hv, &fresh_ids, NULL));
    lqft_verification hv_wrong = verify_opts(other_secret, sizeof other_secret);
    CHECK_STATUS(lqft_map_import_snapshot(copy, hdoc.ptr, hdoc.len, &hv_wrong, &fresh_ids, NULL),
                 LQFT_ERR_POLICY);
    CHECK(strcmp(lqft_last_policy_code(), "verification_signature_mismatch") == 0);
    lqft_bytes_free(&hdoc);

    /* A gzip file's bytes import too. */
    const char *gz = in_dir("s.json.gz");
    CHECK_OK(lqft_snapshot_save_with(s, gz, &w));
    size_t gz_len = 0;
    uint8_t *gz_bytes = slurp(gz, &gz_len);
    CHECK(gz_len > 2 && gz_bytes[0] == 0x1f && gz_bytes[1] == 0x8b);
    CHECK_OK(lqft_map_import_snapshot(copy, gz_bytes, gz_len, &v, &fresh_ids, NULL));
    free(gz_bytes);

    /* Inspection with the key as bytes reports the verification; a wrong key is a report. */
    lqft_bytes report = {NULL, 0};
    CHECK_OK(lqft_file_inspect_verified(file, &v, &report));
    CHECK(strstr((char *)report.ptr, "\"loadable\":true") != NULL);
    lqft_bytes_free(&report);
    CHECK_OK(lqft_file_inspect_verified(file, &wrong, &report));
    CHECK(strstr((char *)report.ptr, "\"loadable\":false") != NULL);
    lqft_bytes_free(&report);

    /* Bundles: export all snapshots, import all or none under fresh ids. */
    CHECK_OK(lqft_map_put(map, STR("k"), STR("v2")));
    lqft_snapshot *s2 = NULL;
    CHECK_OK(lqft_map_snapshot(map, &s2));
    lqft_bytes bundle = {NULL, 0};
    CHECK_OK(lqft_map_export_bundle(map, &w, &bundle));
    lqft_map *third = NULL;
    CHECK_OK(lqft_map_new(&third));
    lqft_ids ids = {NULL, 0};
    CHECK_OK(lqft_map_import_bundle(third, bundle.ptr, bundle.len, &v, &fresh_ids, &ids));
    CHECK(ids.len == 2);
    lqft_snapshot *current = NULL;
    CHECK_OK(lqft_map_current_snapshot(third, &current));
    same_root(s2, current);
    lqft_snapshot_free(current);
    lqft_ids_free(&ids);
    CHECK_STATUS(lqft_map_import_bundle(third, bundle.ptr, bundle.len, &wrong, &fresh_ids, &ids),
                 LQFT_ERR_POLICY);
    CHECK(ids.ptr == NULL);
    const char *bundle_file = in_dir("b.json");
    CHECK_OK(lqft_map_save_bundle_with(map, bundle_file, &w));
    CHECK_OK(lqft_map_load_bundle_verified(third, bundle_file, &v, &fresh_ids, NULL));
    lqft_map *empty = NULL;
    CHECK_OK(lqft_map_new(&empty));
    CHECK(lqft_map_export_bundle(empty, NULL, &none) < 0); /* nothing to export */
    CHECK(none.ptr == NULL);
    lqft_bytes_free(&bundle);

    lqft_bytes_free(&doc);
    lqft_snapshot_free(s);
    lqft_snapshot_free(s2);
    lqft_map_free(map);
    lqft_map_free(copy);
    lqft_map_free(third);
    lqft_map_free(empty);
    free(priv_pem);
    free(pub_pem);
    free(other_pem);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return check_finish("test_payload");
}
