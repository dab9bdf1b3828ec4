/* Bare-metal rv32: process end and integer helpers; no malloc (use pi_l2_malloc). */
#ifndef TM_RV32_STDLIB_H
#define TM_RV32_STDLIB_H
#include <stddef.h>
void exit(int status) __attribute__((noreturn));
void abort(void) __attribute__((noreturn));
int abs(int x);
long labs(long x);
#endif
