/* tm_xpulp.h: the Xpulpv2 path of tm_arch.h for the PULP cluster cores of GAP9 (TM_PLATFORM_GAP9) and of the
 * open-source GVSoC's pulp-open target (TM_PLATFORM_PULP_OPEN): same RI5CY core family, same instructions.
 *
 * Debian's binutils has no Xpulp mnemonics, so the instructions are written with the assembler's .insn directive.
 * Encodings (verified against GVSoC's ISA tables, core/models/cpu/iss/isa_gen/isa_pulp_gen.py, and on GVSoC):
 *   pv.sdotusp.b rd, rs1, rs2   rd += sum_i u8(rs1[i]) * s8(rs2[i])   .insn r 0x57, 1, 0x54, rd, rs1, rs2
 *   pv.sdotup.b                 u8 x u8                                .insn r 0x57, 1, 0x50, ...
 *   pv.sdotsp.b                 s8 x s8                                .insn r 0x57, 1, 0x5c, ...
 *   p.lw rd, 4(rs1!)            load, then rs1 += 4 (post-increment)   .insn i 0x0b, 2, rd, 4(rs1)
 *   lp.setup x0, rs1, L         hardware loop 0, rs1 iterations, body = next instruction .. L
 *                               .insn i 0x7b, 4, x0, rs1, N   (N = byte offset of the last body instruction / 2)
 * Written with .insn rather than the GAP SDK's __builtin_pulp_sdotusp4 so that one source builds with the GAP9
 * SDK's compiler and with Debian's (CI compiles the GAP9 path with the latter).
 *
 * Each kernel below takes any n: whole words go through the SIMD loop, a tail of n % 4 bytes through plain C.
 * The word loads need 4-byte aligned rows; callers check tm_xpulp_aligned() and otherwise use the C loops. */
#ifndef TM_XPULP_H
#define TM_XPULP_H

#include <stddef.h>
#include <stdint.h>

/* ---- SIMD dot products ---------------------------------------------------------------------------------------- */
static inline int tm_xpulp_aligned(const void *a, long a_stride, const void *b, long b_stride)
{
    return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)a_stride | (uintptr_t)b_stride) & 3u) == 0u;
}

/* acc + sum_i a[i] * b[i] over words words (4 words-bytes each): hardware loop, post-increment loads, sdotusp. */
static inline int32_t tm_xpulp_dot_words(const uint8_t *a, const int8_t *b, int words, int32_t acc)
{
    uint32_t va, vb;
    if (words <= 0)
        return acc;
    __asm__ volatile(".option push\n .option norvc\n"
                     ".insn i 0x7b, 4, x0, %[n], 6\n"              /* lp.setup: 3 body instructions */
                     ".insn i 0x0b, 2, %[va], 4(%[pa])\n"          /* p.lw va, 4(pa!) */
                     ".insn i 0x0b, 2, %[vb], 4(%[pb])\n"          /* p.lw vb, 4(pb!) */
                     ".insn r 0x57, 1, 0x54, %[acc], %[va], %[vb]\n" /* pv.sdotusp.b acc, va, vb */
                     ".option pop\n"
                     : [acc] "+r"(acc), [pa] "+r"(a), [pb] "+r"(b), [va] "=&r"(va), [vb] "=&r"(vb)
                     : [n] "r"(words)
                     : "memory");
    return acc;
}

/* out[2*i + j] = sum_t a_i[t] b_j[t] over 4*words bytes, for 4 rows a_i (u8) and 2 rows b_j (s8): each loaded word
 * feeds 2 (a) or 4 (b) products; 6 loads + 8 sdotp per 4 bytes, loads scheduled one instruction ahead of use. */
static inline void tm_xpulp_dot_4x2(const uint8_t *a, long a_stride, const int8_t *b, long b_stride, int words,
                                    int32_t out[8])
{
    const uint8_t *a0 = a, *a1 = a + a_stride, *a2 = a + 2 * a_stride, *a3 = a + 3 * a_stride;
    const int8_t *b0 = b, *b1 = b + b_stride;
    int32_t c00 = 0, c01 = 0, c10 = 0, c11 = 0, c20 = 0, c21 = 0, c30 = 0, c31 = 0;
    /* the loaded words live in fixed temporaries (t0-t5, clobbered): an asm statement has at most 30 operands */
    if (words > 0)
        __asm__ volatile(".option push\n .option norvc\n"
                         ".insn i 0x7b, 4, x0, %[n], 28\n" /* lp.setup: 14 body instructions */
                         ".insn i 0x0b, 2, t4, 4(%[b0])\n" /* p.lw w0, 4(b0!) */
                         ".insn i 0x0b, 2, t5, 4(%[b1])\n" /* p.lw w1, 4(b1!) */
                         ".insn i 0x0b, 2, t0, 4(%[a0])\n"
                         ".insn i 0x0b, 2, t1, 4(%[a1])\n"
                         ".insn r 0x57, 1, 0x54, %[c00], t0, t4\n" /* pv.sdotusp.b c00, x0, w0 */
                         ".insn r 0x57, 1, 0x54, %[c01], t0, t5\n"
                         ".insn i 0x0b, 2, t2, 4(%[a2])\n"
                         ".insn r 0x57, 1, 0x54, %[c10], t1, t4\n"
                         ".insn r 0x57, 1, 0x54, %[c11], t1, t5\n"
                         ".insn i 0x0b, 2, t3, 4(%[a3])\n"
                         ".insn r 0x57, 1, 0x54, %[c20], t2, t4\n"
                         ".insn r 0x57, 1, 0x54, %[c21], t2, t5\n"
                         ".insn r 0x57, 1, 0x54, %[c30], t3, t4\n"
                         ".insn r 0x57, 1, 0x54, %[c31], t3, t5\n"
                         ".option pop\n"
                         : [c00] "+r"(c00), [c01] "+r"(c01), [c10] "+r"(c10), [c11] "+r"(c11), [c20] "+r"(c20),
                           [c21] "+r"(c21), [c30] "+r"(c30), [c31] "+r"(c31), [a0] "+r"(a0), [a1] "+r"(a1),
                           [a2] "+r"(a2), [a3] "+r"(a3), [b0] "+r"(b0), [b1] "+r"(b1)
                         : [n] "r"(words)
                         : "t0", "t1", "t2", "t3", "t4", "t5", "memory");
    out[0] = c00, out[1] = c01, out[2] = c10, out[3] = c11;
    out[4] = c20, out[5] = c21, out[6] = c30, out[7] = c31;
}

/* The 4 x 4 register block's loop, shared by tm_xpulp_dot_4x4_same_stride and tm_xpulp_linear_run: the 16
 * accumulators (a0..a7, s1..s7, t6) set from the 4 initial sums already in a0..a3, then lp.setup on the word count
 * in t0 and 24 body instructions per 4 bytes of K: p.lw with register post-increment from %[pa] (x rows: +st three
 * times, then bk) and %[pb] (w rows), 16 pv.sdotusp.b. */
#define TM_XPULP_DOT_4X4_LOOP                                                                                        \
    "mv a4, a0\n mv a5, a1\n mv a6, a2\n mv a7, a3\n mv s1, a0\n mv s2, a1\n mv s3, a2\n mv s4, a3\n"                \
    "mv s5, a0\n mv s6, a1\n mv s7, a2\n mv t6, a3\n"                                                                \
    ".insn i 0x7b, 4, x0, t0, 48\n" /* lp.setup: 24 body instructions */                                             \
    ".insn r 0x0b, 7, 0x10, t0, %[pa], %[st]\n" /* p.lw x0, st(pa!) */                                               \
    ".insn r 0x0b, 7, 0x10, t1, %[pa], %[st]\n" /* p.lw x1, st(pa!) */                                               \
    ".insn r 0x0b, 7, 0x10, t2, %[pa], %[st]\n" /* p.lw x2, st(pa!) */                                               \
    ".insn r 0x0b, 7, 0x10, t3, %[pa], %[bk]\n" /* p.lw x3, back(pa!) */                                             \
    ".insn r 0x0b, 7, 0x10, t4, %[pb], %[st]\n" /* p.lw w0, st(pb!) */                                               \
    ".insn r 0x0b, 7, 0x10, t5, %[pb], %[st]\n" /* p.lw w1, st(pb!) */                                               \
    ".insn r 0x57, 1, 0x54, a0, t0, t4\n" /* pv.sdotusp.b c00, x0, w0 */                                             \
    ".insn r 0x57, 1, 0x54, a4, t1, t4\n" /* c10 */                                                                  \
    ".insn r 0x57, 1, 0x54, s1, t2, t4\n" /* c20 */                                                                  \
    ".insn r 0x57, 1, 0x54, s5, t3, t4\n" /* c30 */                                                                  \
    ".insn r 0x0b, 7, 0x10, t4, %[pb], %[st]\n" /* p.lw w2, st(pb!) */                                               \
    ".insn r 0x57, 1, 0x54, a1, t0, t5\n" /* c01 */                                                                  \
    ".insn r 0x57, 1, 0x54, a5, t1, t5\n" /* c11 */                                                                  \
    ".insn r 0x57, 1, 0x54, s2, t2, t5\n" /* c21 */                                                                  \
    ".insn r 0x57, 1, 0x54, s6, t3, t5\n" /* c31 */                                                                  \
    ".insn r 0x0b, 7, 0x10, t5, %[pb], %[bk]\n" /* p.lw w3, back(pb!) */                                             \
    ".insn r 0x57, 1, 0x54, a2, t0, t4\n" /* c02 */                                                                  \
    ".insn r 0x57, 1, 0x54, a6, t1, t4\n" /* c12 */                                                                  \
    ".insn r 0x57, 1, 0x54, s3, t2, t4\n" /* c22 */                                                                  \
    ".insn r 0x57, 1, 0x54, s7, t3, t4\n" /* c32 */                                                                  \
    ".insn r 0x57, 1, 0x54, a3, t0, t5\n" /* c03 */                                                                  \
    ".insn r 0x57, 1, 0x54, a7, t1, t5\n" /* c13 */                                                                  \
    ".insn r 0x57, 1, 0x54, s4, t2, t5\n" /* c23 */                                                                  \
    ".insn r 0x57, 1, 0x54, t6, t3, t5\n" /* c33 */

/* out[4*i + j] = init[j] + sum_t a_i[t] b_j[t] over 4*words bytes, for 4 rows a_i = a + i*stride (u8) and 4 rows
 * b_j = b + j*stride (s8) with the SAME row stride (a Linear's x tile and weight slab are both K bytes a row).
 * Each pointer walks its 4 rows with register post-increment loads, p.lw rd, rs2(rs1!) (.insn r 0x0b, 7, 0x10):
 * +stride three times, then back = 4 - 3*stride to the next word of row 0, so 2 pointers and 2 offsets address
 * all 8 rows. Per 4 bytes: 8 loads + 16 sdotusp (2.67 MAC per instruction; the 4 x 2 block: 2.29), each loaded
 * word used at least two instructions after its load (no load-use stall). The 16 accumulators and 6 loaded words
 * live in fixed registers (clobbered: an asm statement has at most 30 operands, a "+r" counts twice), set to
 * init (a Linear's bias slice) in the asm and stored to out at its end; the word count comes from memory into t0
 * before lp.setup. */
static inline void tm_xpulp_dot_4x4_same_stride(const uint8_t *a, const int8_t *b, long stride, int words,
                                                const int32_t init[4], int32_t out[16])
{
    long back = 4 - 3 * stride;
    volatile int count = words; /* read by the asm from memory: no register held during the loop */
    if (words <= 0) {
        for (int i = 0; i < 16; i++)
            out[i] = init[i & 3];
        return;
    }
    __asm__ volatile(".option push\n .option norvc\n"
                     "lw t0, %[cnt]\n"
                     "lw a0, 0(%[init])\n lw a1, 4(%[init])\n lw a2, 8(%[init])\n lw a3, 12(%[init])\n"
                     TM_XPULP_DOT_4X4_LOOP
                     "sw a0, %[o0]\n sw a1, %[o1]\n sw a2, %[o2]\n sw a3, %[o3]\n"
                     "sw a4, %[o4]\n sw a5, %[o5]\n sw a6, %[o6]\n sw a7, %[o7]\n"
                     "sw s1, %[o8]\n sw s2, %[o9]\n sw s3, %[o10]\n sw s4, %[o11]\n"
                     "sw s5, %[o12]\n sw s6, %[o13]\n sw s7, %[o14]\n sw t6, %[o15]\n"
                     ".option pop\n"
                     : [pa] "+r"(a), [pb] "+r"(b), [o0] "=m"(out[0]), [o1] "=m"(out[1]), [o2] "=m"(out[2]),
                       [o3] "=m"(out[3]), [o4] "=m"(out[4]), [o5] "=m"(out[5]), [o6] "=m"(out[6]),
                       [o7] "=m"(out[7]), [o8] "=m"(out[8]), [o9] "=m"(out[9]), [o10] "=m"(out[10]),
                       [o11] "=m"(out[11]), [o12] "=m"(out[12]), [o13] "=m"(out[13]), [o14] "=m"(out[14]),
                       [o15] "=m"(out[15])
                     : [st] "r"(stride), [bk] "r"(back), [cnt] "m"(count), [init] "r"(init)
                     : "t0", "t1", "t2", "t3", "t4", "t5", "t6", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
                       "s1", "s2", "s3", "s4", "s5", "s6", "s7", "memory");
}

/* One (M, S) pair's constants {M, 2^(t-1) + zp 2^t, t} into q[0..2]; 0 when S is outside 33..53. A smaller S with
 * a small M (the attention output's per-row reciprocal) is first brought to S = 33 as (M 2^k, S + k), k = 33 - S:
 * the same value and the same rounding (numerator and denominator times 2^k), when M 2^k < 2^31. */
static inline int tm_xpulp_requant_constant(int32_t mult, int s, int zp, int32_t q[3])
{
    if (s >= 2 && s < 33 && mult >= 0 && mult < ((int32_t)1 << (s - 2)))
        mult <<= 33 - s, s = 33; /* mult < 2^(s-2) = 2^(31 - k): M 2^k < 2^31 */
    if (s < 33 || s > 53)
        return 0;
    int t = s - 32;
    q[0] = mult, q[1] = ((int32_t)1 << (t - 1)) + (int32_t)((uint32_t)zp << t), q[2] = t;
    return 1;
}

/* A 4-column quad's constants (rq: 4 (M, S) pairs) into q[0..11]; 0 when any S is outside 33..53. */
static inline int tm_xpulp_requant_constants(const int32_t rq[8], int zp, int32_t q[12])
{
    for (int j = 0; j < 4; j++)
        if (!tm_xpulp_requant_constant(rq[2 * j], rq[2 * j + 1], zp, q + 3 * j))
            return 0;
    return 1;
}

/* A run of `blocks` full 4 x 4 Linear blocks of ONE column quad, row block after row block (x rows 4 K bytes
 * further, y rows 4 ldy further each block), in one asm statement: per block the register block of
 * tm_xpulp_dot_4x4_same_stride from the bias, then the codes straight from the 16 accumulators, then the next block
 * (no C between blocks: the 22 clobbered registers made gcc reload its loop state from the stack every block, about
 * 60 instructions a block, measured in a pe0 trace; the loop state lives in *run, offsets below).
 * The codes: for column j with fixed-point (M, S) and 33 <= S <= 53, tm_requant_fixed's mulh form with the zero
 * point folded into the rounding term (exact: adding zp 2^t before the arithmetic shift adds zp after it), the
 * column's constants q[3j..3j+2] = {M, 2^(t-1) + zp 2^t, t}, t = S - 32 (tm_xpulp_requant_constants):
 *     c = clip_[0,255]((mulh(acc, M) + h) >> t),  then c = table[c] when table != NULL (a fused GELU)
 * |mulh| <= 2^30 and h < 2^(t+8) <= 2^29, so the sum cannot overflow. Straight-line, in the accumulators: per
 * column 3 post-increment constant loads, 4 mulh back to back, add, sra, p.clipu rd, rs1, 9 (clip to
 * [0, 2^8 - 1]: .insn r 0x33, 2, 0x0a with 9 in the rs2 field; GVSoC isa_pulpv2.py p.clipui '0001010 ----- -----
 * 010 ----- 0110011'), a table code by p.lbu rd, rs2(rs1) (.insn r 0x03, 7, 0x20: LBU_RR '0100000 ----- ----- 111
 * ----- 0000011'); then per row its 4 codes packed into one word by pv.packlo.b (rd[15:0] = {rs1[7:0], rs2[7:0]},
 * .insn r 0x57, 1, 0x70) and pv.packhi.b (rd[31:16] = {rs1[7:0], rs2[7:0]}, rd[15:0] kept, .insn r 0x57, 1, 0x6c)
 * and stored by one sw: y and ldy must be word aligned (the caller checks). 45 instructions a block fewer than a
 * hardware loop over the columns through a stack copy of the sums with byte stores. */
typedef struct {
    const int32_t *bias; /* 0: the quad's 4 initial sums */
    const int32_t *q;    /* 4: tm_xpulp_requant_constants, 12 words */
    const uint8_t *table; /* 8: GELU table or NULL */
    uint8_t *y;          /* 12: the current block's first output row, word aligned (advanced by the asm) */
    long ldy;            /* 16: a multiple of 4 */
    int blocks;          /* 20: blocks left (counted down by the asm), >= 1 */
    int words;           /* 24: K / 4 >= 1 */
} tm_xpulp_quad_run_t;
#if defined(__riscv) /* the cluster's ilp32 (a host compile of the PMSIS harness includes this header too) */
_Static_assert(offsetof(tm_xpulp_quad_run_t, q) == 4 && offsetof(tm_xpulp_quad_run_t, table) == 8 &&
                   offsetof(tm_xpulp_quad_run_t, y) == 12 && offsetof(tm_xpulp_quad_run_t, ldy) == 16 &&
                   offsetof(tm_xpulp_quad_run_t, blocks) == 20 && offsetof(tm_xpulp_quad_run_t, words) == 24,
               "the offsets tm_xpulp_linear_run's asm uses");
#endif

/* A run's register block (tm_xpulp_linear_run, tm_xpulp_scores_run: label 1 starts a block): the 4 initial sums
 * from the array at offset 0 of *run, the word count from offset 24, then TM_XPULP_DOT_4X4_LOOP. Accumulators of
 * x row i (pa) and w row j (pb): j = 0 a0 a4 s1 s5, j = 1 a1 a5 s2 s6, j = 2 a2 a6 s3 s7, j = 3 a3 a7 s4 t6 (for
 * i = 0..3); i = 0 a0..a3, i = 1 a4..a7, i = 2 s1..s4, i = 3 s5 s6 s7 t6. */
#define TM_XPULP_RUN_DOT                                                                                           \
    "1:\n lw t0, 0(%[r])\n"                                                                                       \
    "lw a0, 0(t0)\n lw a1, 4(t0)\n lw a2, 8(t0)\n lw a3, 12(t0)\n"                                              \
    "lw t0, 24(%[r])\n"                                                                                           \
    TM_XPULP_DOT_4X4_LOOP
/* one column's codes in its 4 accumulators, constants by p.lw post-increment from t0 */
/* op r, r, c for each of 4 registers r (an asm string) */
#define TM_XPULP_OP4(op, r0, r1, r2, r3, c)                                                                        \
    op " " r0 ", " r0 ", " c "\n " op " " r1 ", " r1 ", " c "\n " op " " r2 ", " r2 ", " c "\n " op " " r3 ", " r3   \
       ", " c "\n"
#define TM_XPULP_RUN_COLUMN(c0, c1, c2, c3)                                                                        \
    ".insn i 0x0b, 2, t1, 4(t0)\n .insn i 0x0b, 2, t2, 4(t0)\n .insn i 0x0b, 2, t3, 4(t0)\n"                        \
    TM_XPULP_OP4("mulh", c0, c1, c2, c3, "t1") TM_XPULP_OP4("add", c0, c1, c2, c3, "t2")                           \
    TM_XPULP_OP4("sra", c0, c1, c2, c3, "t3")                                                                      \
    ".insn r 0x33, 2, 0x0a, " c0 ", " c0 ", x9\n .insn r 0x33, 2, 0x0a, " c1 ", " c1 ", x9\n"                       \
    ".insn r 0x33, 2, 0x0a, " c2 ", " c2 ", x9\n .insn r 0x33, 2, 0x0a, " c3 ", " c3 ", x9\n"
#define TM_XPULP_RUN_COLUMNS                                                                                       \
    "lw t0, 4(%[r])\n"                                                                                            \
    TM_XPULP_RUN_COLUMN("a0", "a4", "s1", "s5") TM_XPULP_RUN_COLUMN("a1", "a5", "s2", "s6")                       \
    TM_XPULP_RUN_COLUMN("a2", "a6", "s3", "s7") TM_XPULP_RUN_COLUMN("a3", "a7", "s4", "t6")
/* table codes of 4 accumulators, table in t4 */
#define TM_XPULP_RUN_TABLE4(c0, c1, c2, c3)                                                                        \
    ".insn r 0x03, 7, 0x20, " c0 ", t4, " c0 "\n .insn r 0x03, 7, 0x20, " c1 ", t4, " c1 "\n"                       \
    ".insn r 0x03, 7, 0x20, " c2 ", t4, " c2 "\n .insn r 0x03, 7, 0x20, " c3 ", t4, " c3 "\n"
#define TM_XPULP_RUN_TABLE                                                                                         \
    "lw t4, 8(%[r])\n" TM_XPULP_RUN_TABLE4("a0", "a1", "a2", "a3") TM_XPULP_RUN_TABLE4("a4", "a5", "a6", "a7")      \
    TM_XPULP_RUN_TABLE4("s1", "s2", "s3", "s4") TM_XPULP_RUN_TABLE4("s5", "s6", "s7", "t6")
/* one row's 4 codes as one word at t0, then t0 += ldy (t1) */
#define TM_XPULP_RUN_ROW(c0, c1, c2, c3)                                                                           \
    ".insn r 0x57, 1, 0x70, " c0 ", " c1 ", " c0 "\n .insn r 0x57, 1, 0x6c, " c0 ", " c3 ", " c2 "\n"               \
    "sw " c0 ", 0(t0)\n add t0, t0, t1\n"
/* the 4 rows, y 4 rows on (t0 after the rows), then the next block */
#define TM_XPULP_RUN_STORE_NEXT                                                                                    \
    "lw t0, 12(%[r])\n lw t1, 16(%[r])\n"                                                                         \
    TM_XPULP_RUN_ROW("a0", "a1", "a2", "a3") TM_XPULP_RUN_ROW("a4", "a5", "a6", "a7")                             \
    TM_XPULP_RUN_ROW("s1", "s2", "s3", "s4") TM_XPULP_RUN_ROW("s5", "s6", "s7", "t6")                             \
    "sw t0, 12(%[r])\n"                                                                                           \
    TM_XPULP_RUN_NEXT("20")
/* a run's next block: x 4 rows on (pa ended K bytes on: + 3K), the same w rows (pb ended K bytes on: - K), the
 * block count at offset `blocks` of *run down by one, label 1 again while it is not 0 */
#define TM_XPULP_RUN_NEXT(blocks)                                                                                  \
    "add %[pa], %[pa], %[st]\n add %[pa], %[pa], %[st]\n add %[pa], %[pa], %[st]\n sub %[pb], %[pb], %[st]\n"      \
    "lw t0, " blocks "(%[r])\n addi t0, t0, -1\n sw t0, " blocks "(%[r])\n bnez t0, 1b\n"
#define TM_XPULP_RUN_OPERANDS(x, w, stride, back, run)                                                             \
    : [pa] "+r"(x), [pb] "+r"(w)                                                                                   \
    : [st] "r"(stride), [bk] "r"(back), [r] "r"(run)                                                               \
    : "t0", "t1", "t2", "t3", "t4", "t5", "t6", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s1", "s2", "s3",  \
      "s4", "s5", "s6", "s7", "memory"

/* x: the first block's 4 rows (K bytes apart), w: the quad's 4 weight rows (K bytes apart), K = 4 run->words. */
static inline void tm_xpulp_linear_run(const uint8_t *x, const int8_t *w, tm_xpulp_quad_run_t *run)
{
    long k = 4L * run->words, back = 4 - 3 * k;
    if (run->table)
        __asm__ volatile(".option push\n .option norvc\n" TM_XPULP_RUN_DOT TM_XPULP_RUN_COLUMNS TM_XPULP_RUN_TABLE
                         TM_XPULP_RUN_STORE_NEXT ".option pop\n" TM_XPULP_RUN_OPERANDS(x, w, k, back, run));
    else
        __asm__ volatile(".option push\n .option norvc\n" TM_XPULP_RUN_DOT TM_XPULP_RUN_COLUMNS
                         TM_XPULP_RUN_STORE_NEXT ".option pop\n" TM_XPULP_RUN_OPERANDS(x, w, k, back, run));
}

/* y[i] = the code of acc[i] by ONE column's constants q (tm_xpulp_requant_constant; the same formula as
 * tm_xpulp_linear_run) for i < 2 pairs: a hardware loop of two outputs a step (p.lw post-increment, mulh, add,
 * sra, p.clipu, p.sb post-increment), the two mulh back to back. pairs >= 1. */
static inline void tm_xpulp_requant_pairs(const int32_t *acc, const int32_t q[3], uint8_t *y, int pairs)
{
    __asm__ volatile(".option push\n .option norvc\n .insn i 0x7b, 4, x0, %[n], 24\n" /* lp.setup: 12 body */
                     ".insn i 0x0b, 2, t0, 4(%[pa])\n .insn i 0x0b, 2, t1, 4(%[pa])\n"
                     "mulh t0, t0, %[m]\n mulh t1, t1, %[m]\n add t0, t0, %[h]\n add t1, t1, %[h]\n"
                     "sra t0, t0, %[t]\n sra t1, t1, %[t]\n"
                     ".insn r 0x33, 2, 0x0a, t0, t0, x9\n .insn r 0x33, 2, 0x0a, t1, t1, x9\n"
                     ".insn s 0x2b, 0, t0, 1(%[py])\n .insn s 0x2b, 0, t1, 1(%[py])\n"
                     ".option pop\n"
                     : [pa] "+r"(acc), [py] "+r"(y)
                     : [m] "r"(q[0]), [h] "r"(q[1]), [t] "r"(q[2]), [n] "r"(pairs)
                     : "t0", "t1", "memory");
}

/* Deferred numerators of 4*quads int16 scores, quad by quad from the one at t (word aligned), forwards (backwards
 * = 0) or backwards (backwards = 1: the quads at t, t - 4, ...): e[j] = lut[min(rowmax - t[j], dmax)] stored as a
 * word per quad from e (word aligned; e - 4 per quad backwards); returns the sum of the e[j]. Each quad's two words
 * are loaded before its word is stored (numerator_row's in-place layouts rely on it). rowmax >= every t[j], so
 * rowmax - t is 0..65535 and an unsigned halfword min brings it to dmax <= 255. A hardware loop, 4 scores a step:
 * two p.lw rd, rs2(rs1!) (register post-increment, .insn r 0x0b, 7, 0x10), pv.sub.h (.insn r 0x57, 0, 0x04:
 * '000010- ----- ----- 000 ----- 1010111') from rowmax in both halves, pv.minu.h (.insn r 0x57, 0, 0x14: '001010-
 * ... 000 ... 1010111') against dmax in both halves, the 4 indices by andi / srli, 4 p.lbu reg-reg from lut,
 * pv.packlo.b / pv.packhi.b, a word store with register post-increment (p.sw rs2, rs3(rs1!): .insn r 0x2b, 6,
 * 0x00, rs3, rs1, rs2; GVSoC isa_pulpv2.py SW_RR_POSTINC '0000000 ----- ----- 110 ----- 0101011', rs3 in bits
 * 7..11), and the sum by pv.sdotup.b against 0x01010101 (.insn r 0x57, 1, 0x50: '101000- ... 001 ... 1010111',
 * u8 x u8). */
static inline int32_t tm_xpulp_numerators(const int16_t *t, uint8_t *e, const uint8_t *lut, int quads, int32_t rowmax,
                                          uint32_t dmax, int backwards)
{
    uint32_t mx = ((uint32_t)rowmax & 0xFFFFu) * 0x10001u, cap = dmax * 0x10001u, ones = 0x01010101u;
    long t_next = backwards ? -12 : 4, e_next = backwards ? -4 : 4, four = 4;
    int32_t sum = 0;
    __asm__ volatile(".option push\n .option norvc\n .insn i 0x7b, 4, x0, %[n], 36\n" /* lp.setup: 18 body */
                     ".insn r 0x0b, 7, 0x10, t0, %[pt], %[four]\n .insn r 0x0b, 7, 0x10, t1, %[pt], %[tn]\n"
                     ".insn r 0x57, 0, 0x04, t0, %[mx], t0\n .insn r 0x57, 0, 0x04, t1, %[mx], t1\n"
                     ".insn r 0x57, 0, 0x14, t0, t0, %[cap]\n .insn r 0x57, 0, 0x14, t1, t1, %[cap]\n"
                     "andi t2, t0, 255\n srli t0, t0, 16\n andi t3, t1, 255\n srli t1, t1, 16\n"
                     ".insn r 0x03, 7, 0x20, t2, %[lut], t2\n .insn r 0x03, 7, 0x20, t0, %[lut], t0\n"
                     ".insn r 0x03, 7, 0x20, t3, %[lut], t3\n .insn r 0x03, 7, 0x20, t1, %[lut], t1\n"
                     ".insn r 0x57, 1, 0x70, t2, t0, t2\n .insn r 0x57, 1, 0x6c, t2, t1, t3\n"
                     ".insn r 0x2b, 6, 0x00, %[en], %[pe], t2\n" /* p.sw t2, en(pe!) */
                     ".insn r 0x57, 1, 0x50, %[sum], t2, %[ones]\n"
                     ".option pop\n"
                     : [pt] "+r"(t), [pe] "+r"(e), [sum] "+r"(sum)
                     : [mx] "r"(mx), [cap] "r"(cap), [lut] "r"(lut), [ones] "r"(ones), [n] "r"(quads),
                       [four] "r"(four), [tn] "r"(t_next), [en] "r"(e_next)
                     : "t0", "t1", "t2", "t3", "memory");
    return sum;
}

/* A run of `blocks` deferred attention score blocks of ONE row quad, 4 keys x 4 rows each, key quad after key quad
 * (k rows 4 hd bytes further each block, the same q - 128 rows), in one asm statement: per block the register block
 * of tm_xpulp_dot_4x4_same_stride from init (-128 q_sum of the 4 rows), then in the 16 accumulators the scores
 * (acc M + half) >> S (32-bit wrapping products: the caller's proof that the true value fits int32), then row c's 4
 * int16 scores as two words by pv.pack.h (rd = rs1[15:0] << 16 | rs2[15:0]: .insn r 0x57, 0, 0x68; GVSoC
 * isa_pulpv2.py '1101000 ----- ----- 000 ----- 1010111') at t + c tsb bytes (word aligned), t 8 bytes on per block.
 * Straight-line after the dot loop (a stack copy of the sums and a loop over the rows cost ~40 instructions more a
 * block, and the C between blocks ~30 more: gcc reloads its loop state around the 22 clobbered registers). */
typedef struct {
    const int32_t *init; /* 0: the row quad's 4 initial sums */
    int16_t *t;          /* 4: score row 0 at the current key quad (advanced by the asm) */
    long tsb;            /* 8: bytes from one score row to the next, a multiple of 4 */
    int32_t m, half, sh; /* 12, 16, 20: the score's fixed-point multiplier, 2^(S-1), S */
    int words;           /* 24: hd / 4 >= 1 */
    int blocks;          /* 28: key quads left (counted down by the asm), >= 1 */
} tm_xpulp_scores_run_t;
#if defined(__riscv)
_Static_assert(offsetof(tm_xpulp_scores_run_t, t) == 4 && offsetof(tm_xpulp_scores_run_t, tsb) == 8 &&
                   offsetof(tm_xpulp_scores_run_t, m) == 12 && offsetof(tm_xpulp_scores_run_t, half) == 16 &&
                   offsetof(tm_xpulp_scores_run_t, sh) == 20 && offsetof(tm_xpulp_scores_run_t, words) == 24 &&
                   offsetof(tm_xpulp_scores_run_t, blocks) == 28,
               "the offsets tm_xpulp_scores_run's asm uses");
#endif
/* op acc, acc, c for each of the 16 accumulators */
#define TM_XPULP_OP16(op, c)                                                                                       \
    TM_XPULP_OP4(op, "a0", "a1", "a2", "a3", c) TM_XPULP_OP4(op, "a4", "a5", "a6", "a7", c)                         \
    TM_XPULP_OP4(op, "s1", "s2", "s3", "s4", c) TM_XPULP_OP4(op, "s5", "s6", "s7", "t6", c)
/* row c of the block: keys 0..3 in k0..k3 -> two words at t5, then t5 += tsb (t4) */
#define TM_XPULP_SCORES_ROW(k0, k1, k2, k3)                                                                        \
    ".insn r 0x57, 0, 0x68, " k0 ", " k1 ", " k0 "\n .insn r 0x57, 0, 0x68, " k2 ", " k3 ", " k2 "\n"               \
    "sw " k0 ", 0(t5)\n sw " k2 ", 4(t5)\n add t5, t5, t4\n"

/* k: the first key quad's 4 rows (hd bytes apart), q: the quad's 4 q - 128 rows (hd bytes apart), hd = 4 words. */
static inline void tm_xpulp_scores_run(const uint8_t *k, const int8_t *q, tm_xpulp_scores_run_t *run)
{
    long hd = 4L * run->words, back = 4 - 3 * hd;
    __asm__ volatile(".option push\n .option norvc\n" TM_XPULP_RUN_DOT
                     "lw t1, 12(%[r])\n lw t2, 16(%[r])\n lw t3, 20(%[r])\n"
                     TM_XPULP_OP16("mul", "t1")
                     "lw t0, 4(%[r])\n lw t4, 8(%[r])\n"
                     TM_XPULP_OP16("add", "t2") TM_XPULP_OP16("sra", "t3")
                     "mv t5, t0\n"
                     TM_XPULP_SCORES_ROW("a0", "a4", "s1", "s5") TM_XPULP_SCORES_ROW("a1", "a5", "s2", "s6")
                     TM_XPULP_SCORES_ROW("a2", "a6", "s3", "s7") TM_XPULP_SCORES_ROW("a3", "a7", "s4", "t6")
                     "addi t0, t0, 8\n sw t0, 4(%[r])\n"
                     TM_XPULP_RUN_NEXT("28")
                     ".option pop\n" TM_XPULP_RUN_OPERANDS(k, q, hd, back, run));
}

/* y[i] = x[i] - 128 as int8 over 8*pairs bytes (a u8 code c - 128 has the bits of c ^ 0x80), returns the sum of
 * the x codes (pv.sdotup.b against 0x01010101). Two words a step, each used two instructions after its load; the
 * stores by p.sw rs2, 4(rs1!) (.insn s 0x2b, 2: GVSoC isa_pulpv2.py SW_POSTINC '------- ----- ----- 010 -----
 * 0101011'). x and y word aligned, pairs >= 1. */
static inline uint32_t tm_xpulp_minus128_pairs(const uint8_t *x, int8_t *y, int pairs)
{
    uint32_t sum = 0, w0, w1, ones = 0x01010101u, flip = 0x80808080u;
    __asm__ volatile(".option push\n .option norvc\n .insn i 0x7b, 4, x0, %[n], 16\n" /* lp.setup: 8 body */
                     ".insn i 0x0b, 2, %[w0], 4(%[px])\n .insn i 0x0b, 2, %[w1], 4(%[px])\n"
                     ".insn r 0x57, 1, 0x50, %[sum], %[w0], %[ones]\n .insn r 0x57, 1, 0x50, %[sum], %[w1], %[ones]\n"
                     "xor %[w0], %[w0], %[flip]\n xor %[w1], %[w1], %[flip]\n"
                     ".insn s 0x2b, 2, %[w0], 4(%[py])\n .insn s 0x2b, 2, %[w1], 4(%[py])\n"
                     ".option pop\n"
                     : [px] "+r"(x), [py] "+r"(y), [sum] "+r"(sum), [w0] "=&r"(w0), [w1] "=&r"(w1)
                     : [n] "r"(pairs), [ones] "r"(ones), [flip] "r"(flip)
                     : "memory");
    return sum;
}

/* pv.max.h a, b: halfword-wise signed max (.insn r 0x57, 0, 0x18: GVSoC isa_pulpv2.py '001100- ... 000 ...
 * 1010111') */
static inline uint32_t tm_xpulp_max_h(uint32_t a, uint32_t b)
{
    __asm__(".insn r 0x57, 0, 0x18, %[r], %[a], %[b]\n" : [r] "=r"(a) : [a] "r"(a), [b] "r"(b));
    return a;
}

/* max over words words of int16 pairs (2 words-halves a word) at t (word aligned): a hardware loop of two
 * post-increment loads and two pv.max.h into two maxima (no load-use stall), then the larger half. words >= 1. */
static inline int32_t tm_xpulp_max_i16(const int16_t *t, int words)
{
    const uint32_t *p = (const uint32_t *)(const void *)t;
    uint32_t acc = p[0], acc2 = acc, w, w2;
    if (words >= 2) /* two words a step into two maxima: each word used two instructions after its load */
        __asm__ volatile(".option push\n .option norvc\n"
                         ".insn i 0x7b, 4, x0, %[n], 8\n"                   /* lp.setup: 4 body instructions */
                         ".insn i 0x0b, 2, %[w], 4(%[p])\n"                 /* p.lw w, 4(p!) */
                         ".insn i 0x0b, 2, %[w2], 4(%[p])\n"                /* p.lw w2, 4(p!) */
                         ".insn r 0x57, 0, 0x18, %[acc], %[acc], %[w]\n"    /* pv.max.h acc, acc, w */
                         ".insn r 0x57, 0, 0x18, %[acc2], %[acc2], %[w2]\n" /* pv.max.h acc2, acc2, w2 */
                         ".option pop\n"
                         : [acc] "+r"(acc), [acc2] "+r"(acc2), [p] "+r"(p), [w] "=&r"(w), [w2] "=&r"(w2)
                         : [n] "r"(words / 2)
                         : "memory");
    if (words & 1)
        acc = tm_xpulp_max_h(acc, *p);
    acc = tm_xpulp_max_h(acc, acc2);
    int32_t lo = (int16_t)(acc & 0xFFFFu), hi = (int32_t)acc >> 16;
    return lo > hi ? lo : hi;
}

#endif /* TM_XPULP_H */
