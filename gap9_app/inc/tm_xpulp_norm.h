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

/* *sum = sum of 4*words codes, *sq = sum of their squares: per word one load and two u8 dot products. */
static inline void tm_xpulp_moments_words(const uint8_t *x, int words, uint32_t *sum, uint32_t *sq)
{
    uint32_t s = 0, q = 0, w, ones = 0x01010101u;
    __asm__ volatile(".option push\n .option norvc\n"
                     ".insn i 0x7b, 4, x0, %[n], 6\n"                /* lp.setup: 3 body instructions */
                     ".insn i 0x0b, 2, %[w], 4(%[px])\n"             /* p.lw w, 4(px!) */
                     ".insn r 0x57, 1, 0x50, %[s], %[w], %[ones]\n"  /* pv.sdotup.b s, w, 1111 */
                     ".insn r 0x57, 1, 0x50, %[q], %[w], %[w]\n"     /* pv.sdotup.b q, w, w */
                     ".option pop\n"
                     : [s] "+r"(s), [q] "+r"(q), [px] "+r"(x), [w] "=&r"(w)
                     : [n] "r"(words), [ones] "r"(ones)
                     : "memory");
    *sum = s;
    *sq = q;
}

/* y[i] = clip(((((int32)(x[i] d_recip + offset) >> nshift) gain[i] + bias_half[i]) >> shift[i]) + zp, 0, 255) */
static inline void tm_xpulp_layernorm_affine(const uint8_t *x, uint8_t *y, int d, uint32_t d_recip, uint32_t offset,
                                             int nshift, const int32_t *gain, const int32_t *bias_half,
                                             const int32_t *shift, int zp)
{
    uint32_t xv, t, g, b, s;
    if (d <= 0)
        return;
    __asm__ volatile(".option push\n .option norvc\n"
                     ".insn i 0x7b, 4, x0, %[n], 24\n"                  /* lp.setup: 12 body instructions */
                     ".insn i 0x0b, 4, %[xv], 1(%[px])\n"               /* p.lbu xv, 1(px!) */
                     ".insn i 0x0b, 2, %[g], 4(%[pg])\n"                /* p.lw g, 4(pg!) */
                     ".insn i 0x0b, 2, %[b], 4(%[pb])\n"                /* p.lw b, 4(pb!) */
                     ".insn i 0x0b, 2, %[s], 4(%[ps])\n"                /* p.lw s, 4(ps!) */
                     "mv %[t], %[off]\n"
                     ".insn r 0x33, 0, 0x21, %[t], %[xv], %[dr]\n"      /* p.mac t, xv, d_recip */
                     "sra %[t], %[t], %[ns]\n"                          /* n */
                     ".insn r 0x33, 0, 0x21, %[b], %[t], %[g]\n"        /* p.mac b, n, gain */
                     "sra %[b], %[b], %[s]\n"
                     "add %[b], %[b], %[zp]\n"
                     ".insn r 0x33, 2, 0x0a, %[b], %[b], x9\n"          /* p.clipu b, b, [0, 255] */
                     ".insn s 0x2b, 0, %[b], 1(%[py])\n"                /* p.sb b, 1(py!) */
                     ".option pop\n"
                     : [px] "+r"(x), [py] "+r"(y), [pg] "+r"(gain), [pb] "+r"(bias_half), [ps] "+r"(shift),
                       [xv] "=&r"(xv), [t] "=&r"(t), [g] "=&r"(g), [b] "=&r"(b), [s] "=&r"(s)
                     : [n] "r"(d), [off] "r"(offset), [dr] "r"(d_recip), [ns] "r"(nshift), [zp] "r"(zp)
                     : "memory");
}

/* y[i] = clip(((int32)(a[i] ma + b[i] mb + offset) >> shift) + zy, 0, 255) for i < count */
static inline void tm_xpulp_residual(const uint8_t *a, const uint8_t *b, uint8_t *y, int count, uint32_t ma,
                                     uint32_t mb, uint32_t offset, int shift, int zy)
{
    uint32_t va, vb, t;
    if (count <= 0)
        return;
    __asm__ volatile(".option push\n .option norvc\n"
                     ".insn i 0x7b, 4, x0, %[n], 18\n"                  /* lp.setup: 9 body instructions */
                     ".insn i 0x0b, 4, %[va], 1(%[pa])\n"               /* p.lbu va, 1(pa!) */
                     ".insn i 0x0b, 4, %[vb], 1(%[pb])\n"               /* p.lbu vb, 1(pb!) */
                     "mv %[t], %[off]\n"
                     ".insn r 0x33, 0, 0x21, %[t], %[va], %[ma]\n"      /* p.mac t, a, ma */
                     ".insn r 0x33, 0, 0x21, %[t], %[vb], %[mb]\n"      /* p.mac t, b, mb */
                     "sra %[t], %[t], %[sh]\n"
                     "add %[t], %[t], %[zy]\n"
                     ".insn r 0x33, 2, 0x0a, %[t], %[t], x9\n"          /* p.clipu t, t, [0, 255] */
                     ".insn s 0x2b, 0, %[t], 1(%[py])\n"                /* p.sb t, 1(py!) */
                     ".option pop\n"
                     : [pa] "+r"(a), [pb] "+r"(b), [py] "+r"(y), [va] "=&r"(va), [vb] "=&r"(vb), [t] "=&r"(t)
                     : [n] "r"(count), [off] "r"(offset), [ma] "r"(ma), [mb] "r"(mb), [sh] "r"(shift), [zy] "r"(zy)
                     : "memory");
}

#endif /* TM_XPULP_NORM_H */
