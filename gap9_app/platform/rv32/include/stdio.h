/* Bare-metal rv32: printf and friends over semihosting (integers, strings, characters; no floating point). */
#ifndef TM_RV32_STDIO_H
#define TM_RV32_STDIO_H
#include <stdarg.h>
#include <stddef.h>
int printf(const char *format, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *format, va_list args);
int snprintf(char *buffer, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buffer, size_t size, const char *format, va_list args);
int puts(const char *s);
int putchar(int c);
#endif
