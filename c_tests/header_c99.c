/* Compile check: lqft.h is valid strict C99 with every warning enabled (-Wall -Wextra -Werror
 * -pedantic), and every declaration is usable. Also run, to check the version macros against
 * the library. */
#include <stdio.h>
#include <string.h>

#include "lqft.h"

int main(void) {
    char expected[32];
    lqft_map *map = NULL;
    lqft_status st = lqft_map_new(&map);
    snprintf(expected, sizeof expected, "%d.%d.%d", LQFT_VERSION_MAJOR, LQFT_VERSION_MINOR,
             LQFT_VERSION_PATCH);
    lqft_map_free(map);
    if (st != LQFT_OK || strcmp(lqft_version(), expected) != 0) {
        fprintf(stderr, "header %s, library %s\n", expected, lqft_version());
        return 1;
    }
    printf("C99 header check: liblqft %s\n", lqft_version());
    return 0;
}
