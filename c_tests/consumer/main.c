/* A program built against an installed liblqft (CMake package or pkg-config). */
#include <stdio.h>
#include <string.h>

#include "lqft.h"

int main(void) {
    lqft_map *map = NULL;
    lqft_snapshot *snap = NULL;
    lqft_bytes value = {NULL, 0};
    int ok = lqft_map_new(&map) == LQFT_OK &&
             lqft_map_put(map, (const uint8_t *)"key", 3, (const uint8_t *)"value", 5) == LQFT_OK &&
             lqft_map_snapshot(map, &snap) == LQFT_OK &&
             lqft_snapshot_get(snap, (const uint8_t *)"key", 3, &value) == LQFT_OK &&
             value.len == 5 && memcmp(value.ptr, "value", 5) == 0;
    lqft_bytes_free(&value);
    lqft_snapshot_free(snap);
    lqft_map_free(map);
    printf("consumer: liblqft %s %s\n", lqft_version(), ok ? "works" : "FAILED");
    return ok ? 0 : 1;
}
