/* Bare-metal rv32: the few <string.h> functions the app, the kernels and GCC itself (struct copies) call. */
#ifndef TM_RV32_STRING_H
#define TM_RV32_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int value, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
#endif
