/* Bare-metal rv32: the float32 functions the integer contract uses (rounding half to even, exact operations).
 * Implemented on the bits (libc_min.c), so they are the same with soft float (ilp32) and an FPU (ilp32f). */
#ifndef TM_RV32_MATH_H
#define TM_RV32_MATH_H
float rintf(float x);
float nearbyintf(float x);
long lrintf(float x);
float floorf(float x);
float fabsf(float x);
#endif
