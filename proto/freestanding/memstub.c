/*
 * memstub.c — the three functions a freestanding environment must provide, for the
 * link proof only (proto/CMakeLists.txt, target mp_freestanding_proof): the codec's
 * objects are linked with -nostdlib and --no-undefined against these alone, so any
 * other external symbol (printf, malloc, a libc helper) fails the build.
 */
#include <stddef.h>

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *dp = d;
    while (n--)
        *dp++ = (unsigned char)c;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *ap = a, *bp = b;
    for (; n; n--, ap++, bp++)
        if (*ap != *bp)
            return *ap - *bp;
    return 0;
}
