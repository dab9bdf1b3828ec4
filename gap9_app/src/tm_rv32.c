/* platform=rv32 only: the 4 x 4 int8 block over a packed a operand (tm_rv32.h), in assembly.
 *
 * Why assembly: a 4 x 4 block keeps 16 accumulators, the packed a pointer, 4 b row pointers and 6 temporaries live,
 * 27 registers of rv32's 28 allocatable ones (the loop end stays on the stack). gcc spills such a loop (measured:
 * about 29 extra loads/stores per 64 MACs), and an asm statement cannot take 21 read-write operands. Per step t:
 * 4 lbu of a, 4 lb of b, 16 mul + 16 add = 2.5 instructions per MAC, plus 7 loop instructions per 8 steps.
 *
 * void tm_rv32_dot_4x4_packed(const uint8_t *ap, const int8_t *b, long b_stride, int n4, int32_t out[16])
 *   ap: a rows interleaved, ap[4t + i] = a_i[t]; b_j = b + j * b_stride; 4 * n4 steps, n4 >= 1;
 *   out[4i + j] = sum_t a_i[t] * b_j[t] (exact int32).
 * Registers: a0 = ap, a1..a4 = b rows, a5 a6 a7 t0 = a_0..a_3[t], t1 = b_j[t], t2 = product; accumulators
 * c_ij in s0..s11, t3..t6 (column j: s_j, s_(4+j), s_(8+j), t_(3+j)). */
#if defined(TM_PLATFORM_RV32)
#include "tm_rv32.h" /* TM_RV32_FMA */

__asm__(".text\n"
        ".balign 4\n"
        ".globl tm_rv32_dot_4x4_packed\n"
        ".type tm_rv32_dot_4x4_packed, @function\n"
        /* one b value times the 4 a values, into the 4 accumulators of column j */
        ".macro TM_RV32_COL o, b, c0, c1, c2, c3\n"
        "  lb t1, \\o(\\b)\n"
        "  mul t2, a5, t1\n  add \\c0, \\c0, t2\n"
        "  mul t2, a6, t1\n  add \\c1, \\c1, t2\n"
        "  mul t2, a7, t1\n  add \\c2, \\c2, t2\n"
        "  mul t2, t0, t1\n  add \\c3, \\c3, t2\n"
        ".endm\n"
        ".macro TM_RV32_STEP o\n"
        "  lbu a5, 4*\\o(a0)\n  lbu a6, 4*\\o+1(a0)\n  lbu a7, 4*\\o+2(a0)\n  lbu t0, 4*\\o+3(a0)\n"
        "  TM_RV32_COL \\o, a1, s0, s4, s8, t3\n"
        "  TM_RV32_COL \\o, a2, s1, s5, s9, t4\n"
        "  TM_RV32_COL \\o, a3, s2, s6, s10, t5\n"
        "  TM_RV32_COL \\o, a4, s3, s7, s11, t6\n"
        ".endm\n"
        "tm_rv32_dot_4x4_packed:\n"
        "  addi sp, sp, -64\n"
        "  sw s0, 0(sp)\n  sw s1, 4(sp)\n  sw s2, 8(sp)\n  sw s3, 12(sp)\n  sw s4, 16(sp)\n  sw s5, 20(sp)\n"
        "  sw s6, 24(sp)\n  sw s7, 28(sp)\n  sw s8, 32(sp)\n  sw s9, 36(sp)\n  sw s10, 40(sp)\n  sw s11, 44(sp)\n"
        "  andi t1, a3, 1\n"                                       /* n4 odd: enter at the second half */
        "  slli a3, a3, 2\n  add t0, a1, a3\n  sw t0, 48(sp)\n" /* end of b row 0 */
        "  sw a4, 52(sp)\n"                                        /* out */
        "  mv t0, a2\n  add a2, a1, t0\n  add a3, a2, t0\n  add a4, a3, t0\n"
        "  li s0, 0\n  li s1, 0\n  li s2, 0\n  li s3, 0\n  li s4, 0\n  li s5, 0\n  li s6, 0\n  li s7, 0\n"
        "  li s8, 0\n  li s9, 0\n  li s10, 0\n  li s11, 0\n  li t3, 0\n  li t4, 0\n  li t5, 0\n  li t6, 0\n"
        "  beqz t1, 1f\n"
        "  addi a0, a0, -16\n  addi a1, a1, -4\n  addi a2, a2, -4\n  addi a3, a3, -4\n  addi a4, a4, -4\n"
        "  j 2f\n"
        "1:\n" /* 8 steps an iteration: the 5 pointer increments, the end load and the branch once per 128 MACs */
        "  TM_RV32_STEP 0\n  TM_RV32_STEP 1\n  TM_RV32_STEP 2\n  TM_RV32_STEP 3\n"
        "2:\n"
        "  TM_RV32_STEP 4\n  TM_RV32_STEP 5\n  TM_RV32_STEP 6\n  TM_RV32_STEP 7\n"
        "  addi a0, a0, 32\n  addi a1, a1, 8\n  addi a2, a2, 8\n  addi a3, a3, 8\n  addi a4, a4, 8\n"
        "  lw t2, 48(sp)\n  bne a1, t2, 1b\n"
        "  lw t2, 52(sp)\n"
        "  sw s0, 0(t2)\n  sw s1, 4(t2)\n  sw s2, 8(t2)\n  sw s3, 12(t2)\n"
        "  sw s4, 16(t2)\n  sw s5, 20(t2)\n  sw s6, 24(t2)\n  sw s7, 28(t2)\n"
        "  sw s8, 32(t2)\n  sw s9, 36(t2)\n  sw s10, 40(t2)\n  sw s11, 44(t2)\n"
        "  sw t3, 48(t2)\n  sw t4, 52(t2)\n  sw t5, 56(t2)\n  sw t6, 60(t2)\n"
        "  lw s0, 0(sp)\n  lw s1, 4(sp)\n  lw s2, 8(sp)\n  lw s3, 12(sp)\n  lw s4, 16(sp)\n  lw s5, 20(sp)\n"
        "  lw s6, 24(sp)\n  lw s7, 28(sp)\n  lw s8, 32(sp)\n  lw s9, 36(sp)\n  lw s10, 40(sp)\n  lw s11, 44(sp)\n"
        "  addi sp, sp, 64\n"
        "  ret\n"
        ".size tm_rv32_dot_4x4_packed, .-tm_rv32_dot_4x4_packed\n"
        ".purgem TM_RV32_STEP\n"
        ".purgem TM_RV32_COL\n");

#if defined(TM_RV32_FMA)
/* The FPU build's block (tm_rv32.h TM_RV32_FMA): the packed a rows as float32, fmadd.s accumulation, which is exact
 * here because every product and partial sum is an integer below 2^24 (the caller's chunks of <= 512 steps).
 * Per step t: 4 flw of a, 4 lb + 4 fcvt.s.w of b, 16 fmadd.s = 1.75 instructions per MAC, plus 6 loop instructions
 * per 8 steps.
 *
 * void tm_rv32_dot_4x4_fma(const float *ap, const int8_t *b, long b_stride, int n4, int32_t out[16])
 *   as tm_rv32_dot_4x4_packed, ap float; n4 in [1, 128].
 * Registers: a0 = ap, a1..a4 = b rows, a5 = out, t1 = end of b row 0, t0 = b_j[t]; a_0..a_3[t] in ft8..ft11,
 * b_j[t] in fs0 (saved); accumulators c_ij in ft0..ft7, fa0..fa7 (column j: ft_j, ft_(4+j), fa_j, fa_(4+j)). */
__asm__(".text\n"
        ".balign 4\n"
        ".globl tm_rv32_dot_4x4_fma\n"
        ".type tm_rv32_dot_4x4_fma, @function\n"
        ".macro TM_FMA_COL o, b, c0, c1, c2, c3\n"
        "  lb t0, \\o(\\b)\n  fcvt.s.w fs0, t0\n"
        "  fmadd.s \\c0, ft8, fs0, \\c0\n  fmadd.s \\c1, ft9, fs0, \\c1\n"
        "  fmadd.s \\c2, ft10, fs0, \\c2\n  fmadd.s \\c3, ft11, fs0, \\c3\n"
        ".endm\n"
        ".macro TM_FMA_STEP o\n"
        "  flw ft8, 16*\\o(a0)\n  flw ft9, 16*\\o+4(a0)\n  flw ft10, 16*\\o+8(a0)\n  flw ft11, 16*\\o+12(a0)\n"
        "  TM_FMA_COL \\o, a1, ft0, ft4, fa0, fa4\n"
        "  TM_FMA_COL \\o, a2, ft1, ft5, fa1, fa5\n"
        "  TM_FMA_COL \\o, a3, ft2, ft6, fa2, fa6\n"
        "  TM_FMA_COL \\o, a4, ft3, ft7, fa3, fa7\n"
        ".endm\n"
        ".macro TM_FMA_OUT c, o\n"
        "  fcvt.w.s t0, \\c, rtz\n  sw t0, \\o(a5)\n"
        ".endm\n"
        "tm_rv32_dot_4x4_fma:\n"
        "  addi sp, sp, -16\n  fsw fs0, 0(sp)\n"
        "  mv a5, a4\n"
        "  andi t0, a3, 1\n"                  /* n4 odd: enter at the second half */
        "  slli a3, a3, 2\n  add t1, a1, a3\n" /* end of b row 0 */
        "  add a3, a2, a2\n  add a4, a3, a2\n  add a2, a1, a2\n  add a3, a1, a3\n  add a4, a1, a4\n"
        "  fmv.w.x ft0, zero\n  fmv.w.x ft1, zero\n  fmv.w.x ft2, zero\n  fmv.w.x ft3, zero\n"
        "  fmv.w.x ft4, zero\n  fmv.w.x ft5, zero\n  fmv.w.x ft6, zero\n  fmv.w.x ft7, zero\n"
        "  fmv.w.x fa0, zero\n  fmv.w.x fa1, zero\n  fmv.w.x fa2, zero\n  fmv.w.x fa3, zero\n"
        "  fmv.w.x fa4, zero\n  fmv.w.x fa5, zero\n  fmv.w.x fa6, zero\n  fmv.w.x fa7, zero\n"
        "  beqz t0, 1f\n"
        "  addi a0, a0, -64\n  addi a1, a1, -4\n  addi a2, a2, -4\n  addi a3, a3, -4\n  addi a4, a4, -4\n"
        "  j 2f\n"
        "1:\n"
        "  TM_FMA_STEP 0\n  TM_FMA_STEP 1\n  TM_FMA_STEP 2\n  TM_FMA_STEP 3\n"
        "2:\n"
        "  TM_FMA_STEP 4\n  TM_FMA_STEP 5\n  TM_FMA_STEP 6\n  TM_FMA_STEP 7\n"
        "  addi a0, a0, 8*16\n  addi a1, a1, 8\n  addi a2, a2, 8\n  addi a3, a3, 8\n  addi a4, a4, 8\n"
        "  bne a1, t1, 1b\n"
        "  TM_FMA_OUT ft0, 0\n  TM_FMA_OUT ft1, 4\n  TM_FMA_OUT ft2, 8\n  TM_FMA_OUT ft3, 12\n"
        "  TM_FMA_OUT ft4, 16\n  TM_FMA_OUT ft5, 20\n  TM_FMA_OUT ft6, 24\n  TM_FMA_OUT ft7, 28\n"
        "  TM_FMA_OUT fa0, 32\n  TM_FMA_OUT fa1, 36\n  TM_FMA_OUT fa2, 40\n  TM_FMA_OUT fa3, 44\n"
        "  TM_FMA_OUT fa4, 48\n  TM_FMA_OUT fa5, 52\n  TM_FMA_OUT fa6, 56\n  TM_FMA_OUT fa7, 60\n"
        "  flw fs0, 0(sp)\n  addi sp, sp, 16\n"
        "  ret\n"
        ".size tm_rv32_dot_4x4_fma, .-tm_rv32_dot_4x4_fma\n"
        ".purgem TM_FMA_OUT\n"
        ".purgem TM_FMA_STEP\n"
        ".purgem TM_FMA_COL\n");
#endif /* TM_RV32_FMA */
#else
typedef int tm_rv32_unused_t; /* other platforms: nothing here (ISO C wants a declaration in every file) */
#endif
