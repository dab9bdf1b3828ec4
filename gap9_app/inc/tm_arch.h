/* tm_arch.h: the ONE platform layer of the kernel library.
 *
 * Everything that differs between the host build, the GAP9 SDK build and a plain RISC-V build lives here:
 * memory placement macros, the 4-way int8 dot products, and the cluster fork. Kernels only call these, so the
 * SIMD / 8-core work changes this file, never a kernel.
 *
 *   TM_PLATFORM_GAP9   GAP9 SDK (PMSIS, GAP RISC-V gcc builtins __builtin_pulp_sdotusp4)
 *   (default)          host / portable C: the fork is a loop over core ids (TM_NUM_CORES, default 1; tests use 8
 *                      to exercise the core split sequentially)
 *
 * Rule for kernels: a worker never waits on another core (no barrier inside a worker); a phase that needs all
 * cores' results before the next starts is a second tm_fork (the fork returns when all cores are done).
 */
#ifndef TM_ARCH_H
#define TM_ARCH_H

#include <stdint.h>

#if defined(TM_PLATFORM_GAP9)
#include "pmsis.h"
#define TM_NUM_CORES 8
#define TM_L1_DATA PI_CL_L1
#define TM_L2_DATA PI_L2
/* weights: the SDK's L3 (flash/HyperRAM) placement; the app streams slabs to L2 */
#ifndef TM_L3_CONST
#define TM_L3_CONST __attribute__((section(".l3_weights")))
#endif
static inline int tm_core_id(void) { return pi_core_id(); }
static inline void tm_fork(void (*fn)(void *), void *arg) { pi_cl_team_fork(TM_NUM_CORES, fn, arg); }
#else /* host and portable C */
#ifndef TM_NUM_CORES
#define TM_NUM_CORES 1
#endif
#define TM_L1_DATA
#define TM_L2_DATA
#ifndef TM_L3_CONST
#define TM_L3_CONST
#endif
extern int tm_host_core_id;
static inline int tm_core_id(void) { return tm_host_core_id; }
static inline void tm_fork(void (*fn)(void *), void *arg)
{
    for (int core = 0; core < TM_NUM_CORES; core++) {
        tm_host_core_id = core;
        fn(arg);
    }
    tm_host_core_id = 0;
}
#endif

#define TM_ALIGNED(n) __attribute__((aligned(n)))
#define TM_MIN(a, b) ((a) < (b) ? (a) : (b))

/* [*start, *end): this core's share of [begin, end), contiguous chunks, the first cores one item larger. */
static inline void tm_core_range(int begin, int end, int *start, int *stop)
{
    int total = end - begin, core = tm_core_id();
    int chunk = total / TM_NUM_CORES, extra = total % TM_NUM_CORES;
    *start = begin + core * chunk + (core < extra ? core : extra);
    *stop = *start + chunk + (core < extra ? 1 : 0);
}

/* ---- 4-way int8 dot products: sum_i a[i] * b[i] over n (any n), exact int32 accumulation -------------------- */
#if defined(TM_PLATFORM_GAP9)
typedef uint8_t tm_v4u __attribute__((vector_size(4)));
typedef int8_t tm_v4s __attribute__((vector_size(4)));
static inline int32_t tm_dot_u8s8(const uint8_t *a, const int8_t *b, int n)
{
    int32_t acc = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4)
        acc = __builtin_pulp_sdotusp4(*(const tm_v4u *)(a + i), *(const tm_v4s *)(b + i), acc);
    for (; i < n; i++)
        acc += (int32_t)a[i] * b[i];
    return acc;
}
#else
/* Host: contiguous loops that gcc vectorises at -O2/-O3 (pmaddwd / vpdpwssd); int32 accumulation. */
static inline int32_t tm_dot_u8s8(const uint8_t *a, const int8_t *b, int n)
{
    int32_t acc = 0;
    for (int i = 0; i < n; i++)
        acc += (int32_t)a[i] * (int32_t)b[i];
    return acc;
}
#endif

/* Four dot products sharing `a` (register blocking: a is loaded once for four rows of b). */
static inline void tm_dot_u8s8_x4(const uint8_t *a, const int8_t *b0, const int8_t *b1, const int8_t *b2,
                                  const int8_t *b3, int n, int32_t out[4])
{
#if defined(TM_PLATFORM_GAP9)
    out[0] = tm_dot_u8s8(a, b0, n);
    out[1] = tm_dot_u8s8(a, b1, n);
    out[2] = tm_dot_u8s8(a, b2, n);
    out[3] = tm_dot_u8s8(a, b3, n);
#else
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < n; i++) {
        int32_t x = a[i];
        s0 += x * b0[i];
        s1 += x * b1[i];
        s2 += x * b2[i];
        s3 += x * b3[i];
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
#endif
}

#endif /* TM_ARCH_H */
