/* Policy codes for C callers, and the statuses of malformed files and unusable options. */
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

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int policy_code_is(const char *want) {
    const char *code = lqft_last_policy_code();
    return code != NULL && strcmp(code, want) == 0;
}

static void test_policy_codes(void) {
    const char *priv = in_dir("k.pem"), *pub = in_dir("k.pub.pem");
    const char *other_priv = in_dir("o.pem"), *other_pub = in_dir("o.pub.pem");
    CHECK_OK(lqft_keypair_generate(priv, pub, false, NULL));
    CHECK_OK(lqft_keypair_generate(other_priv, other_pub, false, NULL));
    CHECK(lqft_last_policy_code() == NULL);

    lqft_map *map = NULL;
    lqft_snapshot *s = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("k"), STR("v")));
    CHECK_OK(lqft_map_snapshot(map, &s));
    const char *signed_file = in_dir("signed.json"), *plain_file = in_dir("plain.json");
    lqft_save_options sign = {priv, 3600};
    CHECK_OK(lqft_snapshot_save(s, signed_file, &sign));
    CHECK_OK(lqft_snapshot_save(s, plain_file, NULL));

    lqft_map *target = NULL;
    CHECK_OK(lqft_map_new(&target));
    lqft_verify_options wrong = {other_pub, NULL, false, 0};
    CHECK_STATUS(lqft_map_load_snapshot(target, signed_file, &wrong, false, LQFT_ROLLBACK_FAIL,
                                        NULL),
                 LQFT_ERR_POLICY);
    CHECK(policy_code_is("verification_signer_identity_mismatch"));
    CHECK(last_error_has("lqft_map_load_snapshot: verification_signer_identity_mismatch: "));

    lqft_verify_options right = {pub, NULL, false, 0};
    CHECK_STATUS(lqft_map_load_snapshot(target, plain_file, &right, false, LQFT_ROLLBACK_FAIL,
                                        NULL),
                 LQFT_ERR_POLICY);
    CHECK(policy_code_is("verification_unsigned"));

    lqft_verify_options fresh = {pub, NULL, true, 7200};
    CHECK_STATUS(lqft_map_load_snapshot(target, signed_file, &fresh, false, LQFT_ROLLBACK_FAIL,
                                        NULL),
                 LQFT_ERR_POLICY);
    CHECK(policy_code_is("freshness_below_min_remaining_validity"));

    /* Success leaves it; a failure that is not a policy failure clears it. */
    CHECK_OK(lqft_map_load_snapshot(target, signed_file, &right, false, LQFT_ROLLBACK_FAIL, NULL));
    CHECK(policy_code_is("freshness_below_min_remaining_validity"));
    CHECK_STATUS(lqft_map_load_snapshot(target, in_dir("missing.json"), NULL, false,
                                        LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_IO);
    CHECK(lqft_last_policy_code() == NULL);

    /* A window past year 9999 is an invalid argument, and says so. */
    lqft_save_options forever = {NULL, UINT64_MAX};
    CHECK_STATUS(lqft_snapshot_save(s, in_dir("forever.json"), &forever),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK(last_error_has("9999"));
    CHECK(lqft_last_policy_code() == NULL);
    forever.valid_for_seconds = 60ull * 60 * 24 * 366 * 9000;
    CHECK_STATUS(lqft_snapshot_save(s, in_dir("forever.json"), &forever),
                 LQFT_ERR_INVALID_ARGUMENT);
    CHECK(access(in_dir("forever.json"), F_OK) != 0);

    lqft_snapshot_free(s);
    lqft_map_free(map);
    lqft_map_free(target);
}

static void test_malformed_content_is_corrupt(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));

    /* A key over LQFT_MAX_KEY_LEN. */
    size_t key_len = LQFT_MAX_KEY_LEN + 1;
    char *text = malloc(key_len + 200);
    CHECK(text != NULL);
    if (!text) return;
    char *p = text + sprintf(text, "{\"format\": \"lqft-snapshot-v1\", \"metadata\": {}, "
                                   "\"items\": [{\"key\": \"");
    memset(p, 'k', key_len);
    strcpy(p + key_len, "\", \"value\": \"v\"}]}");
    const char *long_key = in_dir("long-key.json");
    write_file(long_key, text);
    free(text);
    CHECK_STATUS(lqft_map_load_snapshot(map, long_key, NULL, false, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_CORRUPT);

    /* A bundle whose current snapshot id names none of its snapshots. */
    const char *bundle = in_dir("bad-current.json");
    write_file(bundle, "{\"format\": \"lqft-snapshot-bundle-v1\", \"metadata\": "
                       "{\"current_snapshot_id\": 9}, \"snapshots\": [{\"format\": "
                       "\"lqft-snapshot-v1\", \"metadata\": {\"snapshot_id\": 1}, \"items\": []}]}");
    CHECK_STATUS(lqft_map_load_bundle(map, bundle, NULL, true, LQFT_ROLLBACK_FAIL, NULL),
                 LQFT_ERR_CORRUPT);
    CHECK(last_error_has("current_snapshot_id"));
    size_t count = 1;
    CHECK_OK(lqft_map_snapshot_count(map, &count));
    CHECK(count == 0);
    lqft_map_free(map);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lqft-policy-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    test_policy_codes();
    test_malformed_content_is_corrupt();
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    CHECK(system(command) == 0);
    return check_finish("test_policy");
}
