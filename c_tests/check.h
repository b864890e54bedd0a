/* Minimal test helpers for the liblqft C tests: each failed check prints where and why and is
 * counted; a test program exits non-zero when any check failed. */
#ifndef LQFT_CHECK_H
#define LQFT_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lqft.h"

/* Updated atomically: the thread test checks from several threads. */
static int check_failures = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            __atomic_fetch_add(&check_failures, 1, __ATOMIC_RELAXED);                                                        \
        }                                                                              \
    } while (0)

#define CHECK_STATUS(expr, want)                                                       \
    do {                                                                               \
        lqft_status got_ = (expr);                                                     \
        if (got_ != (want)) {                                                          \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s; last error: %s\n", \
                    __FILE__, __LINE__, #expr, (int)got_, lqft_status_str(got_), #want, \
                    lqft_last_error_message());                                        \
            __atomic_fetch_add(&check_failures, 1, __ATOMIC_RELAXED);                                                        \
        }                                                                              \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, LQFT_OK)

/* A C string as a (pointer, length) pair, without its terminating NUL. */
#define STR(s) (const uint8_t *)(s), strlen(s)

/* Whether (p, n) holds exactly the bytes of the C string s. */
static inline int bytes_eq(const uint8_t *p, size_t n, const char *s) {
    return n == strlen(s) && (n == 0 || memcmp(p, s, n) == 0);
}

/* Whether the last error message mentions `needle`. */
static inline int last_error_has(const char *needle) {
    return strstr(lqft_last_error_message(), needle) != NULL;
}

static inline int check_finish(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
