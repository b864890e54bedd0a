// Compile check: lqft.h is valid C++11 with every warning enabled (-Wall -Wextra -Werror
// -pedantic) and its declarations have C linkage. Also run, to use a few of them from C++.
#include <cstdio>
#include <cstring>
#include <string>

#include "lqft.h"

int main() {
    lqft_map *map = nullptr;
    if (lqft_map_new(&map) != LQFT_OK) return 1;
    const std::string key = std::string("a\0b", 3);
    lqft_status st = lqft_map_put(map, reinterpret_cast<const uint8_t *>(key.data()), key.size(),
                                  nullptr, 0);
    lqft_bytes value = {nullptr, 0};
    st = st == LQFT_OK ? lqft_map_get(map, reinterpret_cast<const uint8_t *>(key.data()),
                                      key.size(), &value)
                       : st;
    const bool ok = st == LQFT_OK && value.len == 0;
    lqft_bytes_free(&value);
    lqft_map_free(map);
    std::printf("C++11 header check: liblqft %s\n", lqft_version());
    return ok ? 0 : 1;
}
