/* Atomic write batches. */
#include "check.h"

int main(void) {
    lqft_map *map = NULL;
    CHECK_OK(lqft_map_new(&map));
    CHECK_OK(lqft_map_put(map, STR("old"), STR("1")));

    lqft_batch *batch = NULL;
    CHECK_OK(lqft_batch_new(&batch));
    CHECK_OK(lqft_batch_put(batch, STR("a"), STR("1")));
    CHECK_OK(lqft_batch_put(batch, STR("b"), STR("2")));
    CHECK_OK(lqft_batch_delete(batch, STR("old")));
    CHECK_OK(lqft_batch_delete(batch, STR("never-there")));
    /* A rejected operation leaves the batch unchanged. */
    uint8_t *big = calloc(LQFT_MAX_KEY_LEN + 1, 1);
    CHECK_STATUS(lqft_batch_put(batch, big, LQFT_MAX_KEY_LEN + 1, STR("x")), LQFT_ERR_KEY_TOO_LONG);
    CHECK_STATUS(lqft_batch_delete(batch, big, LQFT_MAX_KEY_LEN + 1), LQFT_ERR_KEY_TOO_LONG);
    free(big);
    size_t ops = 0;
    CHECK_OK(lqft_batch_len(batch, &ops));
    CHECK(ops == 4);

    uint64_t applied = 0;
    CHECK_OK(lqft_map_write_batch(map, batch, &applied));
    CHECK(applied == 3); /* the delete of an absent key changes nothing */
    uint64_t len = 0;
    CHECK_OK(lqft_map_len(map, &len));
    CHECK(len == 2);
    bool present = true;
    CHECK_OK(lqft_map_contains(map, STR("old"), &present));
    CHECK(!present);

    /* The batch is reusable: applying it again, then clearing it. */
    CHECK_OK(lqft_map_write_batch(map, batch, NULL));
    CHECK_OK(lqft_batch_clear(batch));
    CHECK_OK(lqft_batch_len(batch, &ops));
    CHECK(ops == 0);
    CHECK_OK(lqft_map_write_batch(map, batch, &applied));
    CHECK(applied == 0);

    lqft_batch_free(batch);
    lqft_batch_free(NULL);
    lqft_map_free(map);
    return check_finish("test_batch");
}
