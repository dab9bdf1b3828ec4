/* The smallest C library a tinymyo-edge app needs on bare-metal rv32 (Debian's riscv64-unknown-elf-gcc ships
 * no libc): memory and string functions (GCC emits memcpy/memset calls even with -ffreestanding), printf over
 * semihosting, exit, and the float32 rounding functions of the integer contract. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "semihost.h"

/* Keep GCC from turning these loops back into calls to themselves. */
#define TM_NO_PATTERNS __attribute__((optimize("no-tree-loop-distribute-patterns")))

TM_NO_PATTERNS void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((((uintptr_t)d | (uintptr_t)s) & 3u) == 0u) {
        for (; n >= 4u; n -= 4u, d += 4, s += 4) *(uint32_t *)(void *)d = *(const uint32_t *)(const void *)s;
    }
    while (n-- != 0u) *d++ = *s++;
    return dst;
}

TM_NO_PATTERNS void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n) return memcpy(dst, src, n);
    while (n-- != 0u) d[n] = s[n];
    return dst;
}

TM_NO_PATTERNS void *memset(void *dst, int value, size_t n)
{
    unsigned char *d = dst;
    uint32_t word = (uint8_t)value * 0x01010101u;
    while (n != 0u && ((uintptr_t)d & 3u) != 0u) *d++ = (unsigned char)value, n--;
    for (; n >= 4u; n -= 4u, d += 4) *(uint32_t *)(void *)d = word;
    while (n-- != 0u) *d++ = (unsigned char)value;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

/* ------------------------------------------------------------------------------------------------- exit */
void exit(int status) { tm_semihost_exit(status); }
void abort(void) { tm_semihost_exit(134); }
int abs(int x) { return x < 0 ? -x : x; }
long labs(long x) { return x < 0 ? -x : x; }

void tm_assert_fail(const char *expr, const char *file, int line)
{
    printf("assertion failed: %s (%s:%d)\n", expr, file, line);
    tm_semihost_exit(134);
}

void tm_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    printf("trap: mcause=0x%08lx mepc=0x%08lx mtval=0x%08lx\n", (unsigned long)mcause, (unsigned long)mepc,
           (unsigned long)mtval);
    tm_semihost_exit(3);
}

/* --------------------------------------------------------------------------------------------- printf */
typedef struct {
    char *buffer;
    size_t size;
    size_t length; /* characters produced, even those that did not fit */
} tm_sink_t;

static void sink_put(tm_sink_t *sink, char c)
{
    if (sink->length + 1u < sink->size) sink->buffer[sink->length] = c;
    sink->length++;
}

static void put_padded(tm_sink_t *sink, const char *text, size_t len, int width, int left, char pad)
{
    int fill = width > (int)len ? width - (int)len : 0;
    if (!left)
        while (fill-- > 0) sink_put(sink, pad);
    for (size_t i = 0; i < len; i++) sink_put(sink, text[i]);
    if (left)
        while (fill-- > 0) sink_put(sink, ' ');
}

static size_t unsigned_text(char *out, unsigned long long v, unsigned base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v != 0u);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

int vsnprintf(char *buffer, size_t size, const char *format, va_list args)
{
    tm_sink_t sink = {buffer, size, 0};
    for (const char *p = format; *p != '\0'; p++) {
        if (*p != '%') {
            sink_put(&sink, *p);
            continue;
        }
        p++;
        int left = 0;
        char pad = ' ';
        for (; *p == '-' || *p == '0'; p++) *p == '-' ? (left = 1) : (pad = '0');
        int width = 0;
        for (; *p >= '0' && *p <= '9'; p++) width = width * 10 + (*p - '0');
        int longs = 0;
        for (; *p == 'l' || *p == 'z'; p++) longs += *p == 'l' ? 1 : 1;
        char text[26];
        size_t len = 0;
        switch (*p) {
        case 'd':
        case 'i': {
            long long v = longs >= 2 ? va_arg(args, long long) : longs == 1 ? va_arg(args, long) : va_arg(args, int);
            unsigned long long magnitude = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            if (v < 0) text[len++] = '-';
            len += unsigned_text(text + len, magnitude, 10, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            unsigned long long v = longs >= 2   ? va_arg(args, unsigned long long)
                                   : longs == 1 ? va_arg(args, unsigned long)
                                                : va_arg(args, unsigned int);
            len = unsigned_text(text, v, *p == 'u' ? 10u : 16u, *p == 'X');
            break;
        }
        case 'p':
            text[0] = '0', text[1] = 'x';
            len = 2 + unsigned_text(text + 2, (uintptr_t)va_arg(args, void *), 16, 0);
            break;
        case 'c':
            text[len++] = (char)va_arg(args, int);
            break;
        case 's': {
            const char *s = va_arg(args, const char *);
            if (s == NULL) s = "(null)";
            put_padded(&sink, s, strlen(s), width, left, ' ');
            continue;
        }
        case '%':
            text[len++] = '%';
            break;
        default: /* unsupported conversion (e.g. %f): show it rather than misread the arguments */
            text[len++] = '%';
            text[len++] = *p == '\0' ? '?' : *p;
            if (*p == '\0') p--;
            break;
        }
        put_padded(&sink, text, len, width, left, left ? ' ' : pad);
    }
    if (size != 0u) buffer[sink.length < size ? sink.length : size - 1u] = '\0';
    return (int)sink.length;
}

int snprintf(char *buffer, size_t size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf(buffer, size, format, args);
    va_end(args);
    return n;
}

int vprintf(const char *format, va_list args)
{
    char line[512];
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(line, sizeof line, format, copy);
    va_end(copy);
    tm_semihost_write0(line);
    if (n >= (int)sizeof line) tm_semihost_write0("[...line truncated]\n");
    return n;
}

int printf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vprintf(format, args);
    va_end(args);
    return n;
}

int puts(const char *s)
{
    tm_semihost_write0(s);
    tm_semihost_write0("\n");
    return 1;
}

int putchar(int c)
{
    char text[2] = {(char)c, '\0'};
    tm_semihost_write0(text);
    return c;
}

/* ----------------------------------------------------------------------------------------- float32 math */
typedef union {
    float f;
    uint32_t u;
} tm_f32_bits_t;

/* Round half to even on the bits: no dependence on the float unit's (or soft-float's) rounding mode. */
float rintf(float x)
{
    tm_f32_bits_t v = {x};
    uint32_t exponent = (v.u >> 23) & 0xFFu;
    uint32_t sign = v.u & 0x80000000u;
    if (exponent >= 150u) return x; /* |x| >= 2^23: already integral (or inf / NaN) */
    if (exponent < 126u) {          /* |x| < 0.5 */
        v.u = sign;
        return v.f;
    }
    uint32_t shift = 150u - exponent; /* fractional bits: 1 .. 24 */
    uint32_t mantissa = (v.u & 0x7FFFFFu) | 0x800000u;
    uint32_t whole = mantissa >> shift;
    uint32_t fraction = mantissa & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (fraction > half || (fraction == half && (whole & 1u) != 0u)) whole++;
    float r = (float)whole; /* whole <= 2^23: exact */
    return sign != 0u ? -r : r;
}

float nearbyintf(float x) { return rintf(x); }
long lrintf(float x) { return (long)rintf(x); }

float floorf(float x)
{
    float r = rintf(x);
    return r > x ? r - 1.0f : r;
}

float fabsf(float x)
{
    tm_f32_bits_t v = {x};
    v.u &= 0x7FFFFFFFu;
    return v.f;
}
