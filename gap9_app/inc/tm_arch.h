/* tm_arch.h: the ONE platform layer of the kernel library.
 *
 * Everything that differs between the host build, the GAP9 SDK build and a plain RISC-V build lives here:
 * memory placement macros, the 4-way int8 dot products, and the cluster fork. Kernels only call these, so the
 * SIMD / 8-core work changes this file, never a kernel.
 *
 *   TM_PLATFORM_GAP9   GAP9 SDK (PMSIS; Xpulpv2 SIMD through .insn, tm_xpulp.h, as on pulp-open)
 *   TM_PLATFORM_PULP_OPEN  the open PULP SDK's PMSIS built for GVSoC pulp-open with plain riscv64-unknown-elf-gcc:
 *                      Xpulpv2 through .insn (tm_xpulp.h)
 *   Both are PMSIS: the cluster task runs on core 0, tm_fork is pi_cl_team_fork over the 8 cores, tm_core_id is
 *   pi_core_id, L1/L2 placement is PI_CL_L1 / PI_L2 (one code path; platform/pmsis).
 *   (default)          host / portable C: the fork is a loop over core ids (TM_NUM_CORES, default 1; tests use 8
 *                      to exercise the core split sequentially)
 *
 * Rule for kernels: a worker never waits on another core (no barrier inside a worker); a phase that needs all
 * cores' results before the next starts is a second tm_fork (the fork returns when all cores are done).
 */
#ifndef TM_ARCH_H
#define TM_ARCH_H

#include <stdint.h>

#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
#include "pmsis.h"
#include "tm_xpulp.h" /* Xpulpv2 SIMD, the same instructions on both */
#define TM_NUM_CORES 8
#define TM_L1_DATA PI_CL_L1
#define TM_L2_DATA PI_L2
#ifndef TM_L3_CONST
#if defined(TM_PLATFORM_GAP9)
#define TM_L3_CONST __attribute__((section(".l3_weights")))
#else
#define TM_L3_CONST /* plain .rodata.<name>: the pulp-open link step moves the linear weights to the flash image */
#endif
#endif
static inline int tm_core_id(void) { return (int)pi_core_id(); }
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
/* Xpulpv2 (GAP9's and pulp-open's cluster cores): pv.sdotusp.b through .insn, tm_xpulp.h */
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
static inline int32_t tm_dot_u8s8(const uint8_t *a, const int8_t *b, int n)
{
    int i = 0;
    int32_t acc = 0;
    if (tm_xpulp_aligned(a, 0, b, 0)) {
        acc = tm_xpulp_dot_words(a, b, n / 4, 0);
        i = n & ~3;
    }
    for (; i < n; i++)
        acc += (int32_t)a[i] * b[i];
    return acc;
}
#elif defined(__AVX512VNNI__) && defined(__AVX512BW__) && !defined(TM_PORTABLE_C)
#include <immintrin.h>
static inline int32_t tm_dot_u8s8(const uint8_t *a, const int8_t *b, int n)
{
    __m512i acc = _mm512_setzero_si512();
    for (int i = 0; i < n; i += 64) {
        __mmask64 m = n - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - i)) - 1);
        acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, a + i), _mm512_maskz_loadu_epi8(m, b + i));
    }
    return _mm512_reduce_add_epi32(acc);
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

/* A 4 x 4 block of dot products: out[4*i + j] = sum_t a_i[t] * b_j[t] over n, a_i = a + i*a_stride (u8),
 * b_j = b + j*b_stride (s8). Register blocking: each loaded a and b feeds four products. Every matrix product of
 * the library (Linear, attention scores, attention output) is a grid of these blocks. */
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
/* Two 4 x 2 register blocks (tm_xpulp.h) per 4 x 4 block; a tail of n % 4 bytes and unaligned rows in plain C. */
static inline void tm_dot_u8s8_4x4(const uint8_t *a, long a_stride, const int8_t *b, long b_stride, int n,
                                   int32_t out[16])
{
    int words = tm_xpulp_aligned(a, a_stride, b, b_stride) ? n / 4 : 0;
    for (int j = 0; j < 4; j += 2) {
        int32_t blk[8];
        tm_xpulp_dot_4x2(a, a_stride, b + j * b_stride, b_stride, words, blk);
        for (int i = 0; i < 4; i++) {
            const uint8_t *x = a + i * a_stride;
            const int8_t *w0 = b + j * b_stride, *w1 = w0 + b_stride;
            int32_t s0 = blk[2 * i], s1 = blk[2 * i + 1];
            for (int t = 4 * words; t < n; t++)
                s0 += (int32_t)x[t] * w0[t], s1 += (int32_t)x[t] * w1[t];
            out[4 * i + j] = s0, out[4 * i + j + 1] = s1;
        }
    }
}
#elif defined(__AVX512VNNI__) && defined(__AVX512BW__) && !defined(TM_PORTABLE_C)
/* Host with AVX-512 VNNI (-march=native on such a CPU): vpdpbusd is exactly u8 x s8 -> int32 (4 products of at
 * most 255 * 128 summed without saturation), 64 bytes a step, masked tail loads give zeros. */
/* [sum(v0), sum(v1), sum(v2), sum(v3)]: pairs are interleaved and added while still 512 bits wide (13 operations
 * instead of 4 separate horizontal sums). */
static inline __m128i tm_hsum4_(__m512i v0, __m512i v1, __m512i v2, __m512i v3)
{
    __m512i a = _mm512_add_epi32(_mm512_unpacklo_epi32(v0, v1), _mm512_unpackhi_epi32(v0, v1));
    __m512i b = _mm512_add_epi32(_mm512_unpacklo_epi32(v2, v3), _mm512_unpackhi_epi32(v2, v3));
    __m512i c = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b)); /* per 128-bit lane */
    c = _mm512_add_epi32(c, _mm512_shuffle_i32x4(c, c, 0x4e));                               /* lanes 0+2, 1+3 */
    __m256i h = _mm512_castsi512_si256(c);
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Written out so that the 16 accumulators stay in zmm registers (an array of __m512i is spilled). */
static inline __attribute__((always_inline)) void tm_dot_u8s8_4x4(const uint8_t *a, long a_stride, const int8_t *b,
                                                                  long b_stride, int n, int32_t out[16])
{
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
            c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    for (int t = 0; t < n; t += 64) {
        __mmask64 m = n - t >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - t)) - 1);
        __m512i b0 = _mm512_maskz_loadu_epi8(m, b + t), b1 = _mm512_maskz_loadu_epi8(m, b + b_stride + t);
        __m512i b2 = _mm512_maskz_loadu_epi8(m, b + 2 * b_stride + t);
        __m512i b3 = _mm512_maskz_loadu_epi8(m, b + 3 * b_stride + t);
        __m512i x = _mm512_maskz_loadu_epi8(m, a + t);
        c00 = _mm512_dpbusd_epi32(c00, x, b0), c01 = _mm512_dpbusd_epi32(c01, x, b1);
        c02 = _mm512_dpbusd_epi32(c02, x, b2), c03 = _mm512_dpbusd_epi32(c03, x, b3);
        x = _mm512_maskz_loadu_epi8(m, a + a_stride + t);
        c10 = _mm512_dpbusd_epi32(c10, x, b0), c11 = _mm512_dpbusd_epi32(c11, x, b1);
        c12 = _mm512_dpbusd_epi32(c12, x, b2), c13 = _mm512_dpbusd_epi32(c13, x, b3);
        x = _mm512_maskz_loadu_epi8(m, a + 2 * a_stride + t);
        c20 = _mm512_dpbusd_epi32(c20, x, b0), c21 = _mm512_dpbusd_epi32(c21, x, b1);
        c22 = _mm512_dpbusd_epi32(c22, x, b2), c23 = _mm512_dpbusd_epi32(c23, x, b3);
        x = _mm512_maskz_loadu_epi8(m, a + 3 * a_stride + t);
        c30 = _mm512_dpbusd_epi32(c30, x, b0), c31 = _mm512_dpbusd_epi32(c31, x, b1);
        c32 = _mm512_dpbusd_epi32(c32, x, b2), c33 = _mm512_dpbusd_epi32(c33, x, b3);
    }
    _mm_storeu_si128((__m128i *)(void *)(out + 0), tm_hsum4_(c00, c01, c02, c03));
    _mm_storeu_si128((__m128i *)(void *)(out + 4), tm_hsum4_(c10, c11, c12, c13));
    _mm_storeu_si128((__m128i *)(void *)(out + 8), tm_hsum4_(c20, c21, c22, c23));
    _mm_storeu_si128((__m128i *)(void *)(out + 12), tm_hsum4_(c30, c31, c32, c33));
}
#elif defined(TM_PLATFORM_RV32) /* plain scalar RISC-V (platform=rv32): register blocks written for its registers */
#include "tm_rv32.h"
#else
static inline void tm_dot_u8s8_4x4(const uint8_t *a, long a_stride, const int8_t *b, long b_stride, int n,
                                   int32_t out[16])
{
    for (int i = 0; i < 4; i++) {
        const uint8_t *x = a + i * a_stride;
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int t = 0; t < n; t++) {
            int32_t v = x[t];
            s0 += v * b[t];
            s1 += v * b[b_stride + t];
            s2 += v * b[2 * b_stride + t];
            s3 += v * b[3 * b_stride + t];
        }
        out[4 * i + 0] = s0;
        out[4 * i + 1] = s1;
        out[4 * i + 2] = s2;
        out[4 * i + 3] = s3;
    }
}
#endif

#endif /* TM_ARCH_H */
