/*
 * mp_mem.h — the only "library" the codec uses.
 *
 * The codec must build freestanding (no libc headers at all), so it cannot include
 * <string.h>.  The compiler builtins below are inlined for small constant sizes and
 * otherwise become calls to memcpy/memset/memcmp, which every freestanding environment
 * (newlib, the kernel, an RTOS) provides: that is the whole of the codec's dependency.
 */
#ifndef MP_MEM_H
#define MP_MEM_H

#define mp_memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define mp_memset(d, c, n) __builtin_memset((d), (c), (n))
#define mp_memcmp(a, b, n) __builtin_memcmp((a), (b), (n))

#endif /* MP_MEM_H */
