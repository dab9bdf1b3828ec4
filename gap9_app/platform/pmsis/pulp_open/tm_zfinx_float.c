/* The float32 helpers of libgcc's soft-float ABI (what gcc calls for float arithmetic with -march=rv32imc), each
 * done by ONE instruction of the core's float unit, which on GVSoC's pulp-open core works on the integer registers
 * (Zfinx). Debian's gcc 12 accepts -march=..._zfinx but still emits these calls, so the instructions are written
 * with .insn (OP-FP opcode 0x53, funct7 = operation, funct3 = rounding mode: 0 = to nearest even, 1 = toward zero).
 * IEEE binary32 results, identical to libgcc's soft float and to the host's SSE (no FMA anywhere): the app's
 * output stays bit-identical, 10-30x fewer cycles per float step. Linked instead of libgcc's versions when
 * PULP_FLOAT=zfinx (the default of platform=pulp-open). Float arguments arrive as their bits in a0/a1. */
#include <stdint.h>

#define TM_FP_OP(name, funct7)                                                                                    \
    float name(float a, float b);                                                                                 \
    float name(float a, float b)                                                                                  \
    {                                                                                                             \
        float r;                                                                                                  \
        __asm__(".insn r 0x53, 0, " #funct7 ", %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));                          \
        return r;                                                                                                 \
    }

TM_FP_OP(__addsf3, 0x00) /* fadd.s, round to nearest even */
TM_FP_OP(__subsf3, 0x04) /* fsub.s */
TM_FP_OP(__mulsf3, 0x08) /* fmul.s */
TM_FP_OP(__divsf3, 0x0C) /* fdiv.s */

/* int -> float: fcvt.s.w / fcvt.s.wu, to nearest even (as a C conversion in the default mode) */
float __floatsisf(int32_t i);
float __floatsisf(int32_t i)
{
    float r;
    __asm__(".insn r 0x53, 0, 0x68, %0, %1, x0" : "=r"(r) : "r"(i));
    return r;
}

float __floatunsisf(uint32_t i);
float __floatunsisf(uint32_t i)
{
    float r;
    __asm__(".insn r 0x53, 0, 0x68, %0, %1, x1" : "=r"(r) : "r"(i));
    return r;
}

/* float -> int: fcvt.w.s / fcvt.wu.s toward zero (C truncation; out-of-range is undefined in C anyway) */
int32_t __fixsfsi(float a);
int32_t __fixsfsi(float a)
{
    int32_t r;
    __asm__(".insn r 0x53, 1, 0x60, %0, %1, x0" : "=r"(r) : "r"(a));
    return r;
}

uint32_t __fixunssfsi(float a);
uint32_t __fixunssfsi(float a)
{
    uint32_t r;
    __asm__(".insn r 0x53, 1, 0x60, %0, %1, x1" : "=r"(r) : "r"(a));
    return r;
}

/* comparisons: flt.s (funct3 1), feq.s (funct3 2); false whenever an operand is NaN, as libgcc's */
static inline int flt(float a, float b)
{
    int r;
    __asm__(".insn r 0x53, 1, 0x50, %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int feq(float a, float b)
{
    int r;
    __asm__(".insn r 0x53, 2, 0x50, %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* a < b and a <= b: negative / non-positive when true, 1 when false or unordered */
int __ltsf2(float a, float b);
int __ltsf2(float a, float b) { return flt(a, b) ? -1 : feq(a, b) ? 0 : 1; }
int __lesf2(float a, float b);
int __lesf2(float a, float b) { return __ltsf2(a, b); }
/* a > b and a >= b: positive / non-negative when true, -1 when false or unordered */
int __gtsf2(float a, float b);
int __gtsf2(float a, float b) { return flt(b, a) ? 1 : feq(a, b) ? 0 : -1; }
int __gesf2(float a, float b);
int __gesf2(float a, float b) { return __gtsf2(a, b); }
/* a == b and a != b: zero when equal */
int __eqsf2(float a, float b);
int __eqsf2(float a, float b) { return !feq(a, b); }
int __nesf2(float a, float b);
int __nesf2(float a, float b) { return !feq(a, b); }
int __unordsf2(float a, float b);
int __unordsf2(float a, float b) { return !(feq(a, a) && feq(b, b)); }
