/* tm_xpulp_norm.h: the Xpulpv2 inner loops of LayerNorm and ResidualAdd (tm_layernorm.c, tm_residual.c) for the PULP
 * cluster cores (TM_PLATFORM_GAP9, TM_PLATFORM_PULP_OPEN), written with .insn as tm_xpulp.h explains. Encodings
 * (GVSoC core/models/cpu/iss/isa_gen/isa_pulpv2.py):
 *   p.lbu rd, 1(rs1!)        .insn i 0x0b, 4, rd, 1(rs1)        load byte, then rs1 += 1
 *   p.lw  rd, 4(rs1!)        .insn i 0x0b, 2, rd, 4(rs1)
 *   p.sb  rs2, 1(rs1!)       .insn s 0x2b, 0, rs2, 1(rs1)       store byte, then rs1 += 1
 *   p.mac rd, rs1, rs2       .insn r 0x33, 0, 0x21, rd, rs1, rs2   rd += rs1 * rs2 (low 32 bits)
 *   p.clipu rd, rs1, 9       .insn r 0x33, 2, 0x0a, rd, rs1, x9    (p.clipui, immediate 9) rd = min(max(rs1, 0), 255)
 *   pv.sdotup.b rd, rs1, rs2 .insn r 0x57, 1, 0x50, rd, rs1, rs2   rd += sum of the 4 u8 x u8 products
 *   lp.setup x0, rs1, L      .insn i 0x7b, 4, x0, rs1, N        hardware loop, N = (offset of the last body insn) / 2
 * The arithmetic is the one the portable C loops of the two kernels state (wrapping uint32 sums, arithmetic >>). */
#ifndef TM_XPULP_NORM_H
#define TM_XPULP_NORM_H

#include <stdint.h>

/* *sum = sum of 8*pairs codes, *sq = sum of their squares: two words a step, two u8 dot products per word, each word
 * used two instructions after its load. x word aligned, pairs >= 1. */
static inline void tm_xpulp_moments_pairs(const uint8_t *x, int pairs, uint32_t *sum, uint32_t *sq)
{
    uint32_t s = 0, q = 0, w0, w1, ones = 0x01010101u;
    __asm__ volatile(".option push\n .option norvc\n"
                     ".insn i 0x7b, 4, x0, %[n], 12\n"                /* lp.setup: 6 body instructions */
                     ".insn i 0x0b, 2, %[w0], 4(%[px])\n"             /* p.lw w0, 4(px!) */
                     ".insn i 0x0b, 2, %[w1], 4(%[px])\n"             /* p.lw w1, 4(px!) */
                     ".insn r 0x57, 1, 0x50, %[s], %[w0], %[ones]\n"  /* pv.sdotup.b s, w0, 1111 */
                     ".insn r 0x57, 1, 0x50, %[q], %[w0], %[w0]\n"    /* pv.sdotup.b q, w0, w0 */
                     ".insn r 0x57, 1, 0x50, %[s], %[w1], %[ones]\n"
                     ".insn r 0x57, 1, 0x50, %[q], %[w1], %[w1]\n"
                     ".option pop\n"
                     : [s] "+r"(s), [q] "+r"(q), [px] "+r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1)
                     : [n] "r"(pairs), [ones] "r"(ones)
                     : "memory");
    *sum = s;
    *sq = q;
}

/* y[i] = clip(((((int32)(x[i] d_recip + offset) >> nshift) gain[i] + bias_half[i]) >> shift[i]) + zp, 0, 255).
 * Two elements per iteration, interleaved, so that no result is used by the next instruction (load and multiply
 * latencies hidden); an odd last element by the same arithmetic in C. */
static inline void tm_xpulp_layernorm_affine(const uint8_t *x, uint8_t *y, int d, uint32_t d_recip, uint32_t offset,
                                             int nshift, const int32_t *gain, const int32_t *bias_half,
                                             const int32_t *shift, int zp)
{
    uint32_t x0, x1, t0, t1, g0, g1, b0, b1, s0, s1;
    int pairs = d >> 1;
    if (pairs > 0)
        __asm__ volatile(".option push\n .option norvc\n"
                         ".insn i 0x7b, 4, x0, %[n], 48\n"               /* lp.setup: 24 body instructions */
                         ".insn i 0x0b, 4, %[x0], 1(%[px])\n"            /* p.lbu x0, 1(px!) */
                         ".insn i 0x0b, 4, %[x1], 1(%[px])\n"
                         ".insn i 0x0b, 2, %[g0], 4(%[pg])\n"            /* p.lw g0, 4(pg!) */
                         ".insn i 0x0b, 2, %[g1], 4(%[pg])\n"
                         ".insn i 0x0b, 2, %[b0], 4(%[pb])\n"
                         ".insn i 0x0b, 2, %[b1], 4(%[pb])\n"
                         ".insn i 0x0b, 2, %[s0], 4(%[ps])\n"
                         ".insn i 0x0b, 2, %[s1], 4(%[ps])\n"
                         "mv %[t0], %[off]\n"
                         "mv %[t1], %[off]\n"
                         ".insn r 0x33, 0, 0x21, %[t0], %[x0], %[dr]\n"  /* p.mac t0, x0, d_recip */
                         ".insn r 0x33, 0, 0x21, %[t1], %[x1], %[dr]\n"
                         "sra %[t0], %[t0], %[ns]\n"                     /* n0 */
                         "sra %[t1], %[t1], %[ns]\n"
                         ".insn r 0x33, 0, 0x21, %[b0], %[t0], %[g0]\n"  /* p.mac b0, n0, gain */
                         ".insn r 0x33, 0, 0x21, %[b1], %[t1], %[g1]\n"
                         "sra %[b0], %[b0], %[s0]\n"
                         "sra %[b1], %[b1], %[s1]\n"
                         "add %[b0], %[b0], %[zp]\n"
                         "add %[b1], %[b1], %[zp]\n"
                         ".insn r 0x33, 2, 0x0a, %[b0], %[b0], x9\n"     /* p.clipu b0, b0, [0, 255] */
                         ".insn r 0x33, 2, 0x0a, %[b1], %[b1], x9\n"
                         ".insn s 0x2b, 0, %[b0], 1(%[py])\n"            /* p.sb b0, 1(py!) */
                         ".insn s 0x2b, 0, %[b1], 1(%[py])\n"
                         ".option pop\n"
                         : [px] "+r"(x), [py] "+r"(y), [pg] "+r"(gain), [pb] "+r"(bias_half), [ps] "+r"(shift),
                           [x0] "=&r"(x0), [x1] "=&r"(x1), [t0] "=&r"(t0), [t1] "=&r"(t1), [g0] "=&r"(g0),
                           [g1] "=&r"(g1), [b0] "=&r"(b0), [b1] "=&r"(b1), [s0] "=&r"(s0), [s1] "=&r"(s1)
                         : [n] "r"(pairs), [off] "r"(offset), [dr] "r"(d_recip), [ns] "r"(nshift), [zp] "r"(zp)
                         : "memory");
    if (d & 1) {
        int32_t n = (int32_t)(x[0] * d_recip + offset) >> nshift;
        int32_t r = ((n * gain[0] + bias_half[0]) >> shift[0]) + zp;
        y[0] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    }
}

/* y[i] = clip(((int32)(a[i] ma + b[i] mb + offset) >> shift) + zy, 0, 255) for i < count: two elements per
 * iteration, interleaved (no result used by the next instruction); an odd last element in C. */
static inline void tm_xpulp_residual(const uint8_t *a, const uint8_t *b, uint8_t *y, int count, uint32_t ma,
                                     uint32_t mb, uint32_t offset, int shift, int zy)
{
    uint32_t a0, a1, b0, b1, t0, t1;
    int pairs = count >> 1;
    if (pairs > 0)
        __asm__ volatile(".option push\n .option norvc\n"
                         ".insn i 0x7b, 4, x0, %[n], 36\n"               /* lp.setup: 18 body instructions */
                         ".insn i 0x0b, 4, %[a0], 1(%[pa])\n"            /* p.lbu a0, 1(pa!) */
                         ".insn i 0x0b, 4, %[b0], 1(%[pb])\n"
                         ".insn i 0x0b, 4, %[a1], 1(%[pa])\n"
                         ".insn i 0x0b, 4, %[b1], 1(%[pb])\n"
                         "mv %[t0], %[off]\n"
                         "mv %[t1], %[off]\n"
                         ".insn r 0x33, 0, 0x21, %[t0], %[a0], %[ma]\n"  /* p.mac t0, a0, ma */
                         ".insn r 0x33, 0, 0x21, %[t1], %[a1], %[ma]\n"
                         ".insn r 0x33, 0, 0x21, %[t0], %[b0], %[mb]\n"  /* p.mac t0, b0, mb */
                         ".insn r 0x33, 0, 0x21, %[t1], %[b1], %[mb]\n"
                         "sra %[t0], %[t0], %[sh]\n"
                         "sra %[t1], %[t1], %[sh]\n"
                         "add %[t0], %[t0], %[zy]\n"
                         "add %[t1], %[t1], %[zy]\n"
                         ".insn r 0x33, 2, 0x0a, %[t0], %[t0], x9\n"     /* p.clipu t0, t0, [0, 255] */
                         ".insn r 0x33, 2, 0x0a, %[t1], %[t1], x9\n"
                         ".insn s 0x2b, 0, %[t0], 1(%[py])\n"            /* p.sb t0, 1(py!) */
                         ".insn s 0x2b, 0, %[t1], 1(%[py])\n"
                         ".option pop\n"
                         : [pa] "+r"(a), [pb] "+r"(b), [py] "+r"(y), [a0] "=&r"(a0), [a1] "=&r"(a1), [b0] "=&r"(b0),
                           [b1] "=&r"(b1), [t0] "=&r"(t0), [t1] "=&r"(t1)
                         : [n] "r"(pairs), [off] "r"(offset), [ma] "r"(ma), [mb] "r"(mb), [sh] "r"(shift),
                           [zy] "r"(zy)
                         : "memory");
    if (count & 1) {
        int32_t r = ((int32_t)(a[0] * ma + b[0] * mb + offset) >> shift) + zy;
        y[0] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    }
}

#endif /* TM_XPULP_NORM_H */
