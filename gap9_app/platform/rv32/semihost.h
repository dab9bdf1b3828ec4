/* RISC-V semihosting (the ARM protocol, as QEMU implements it with -semihosting-config enable=on,target=native):
 * console output, host files, exit with a status. */
#ifndef TM_SEMIHOST_H
#define TM_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

void tm_semihost_write0(const char *text);
/* Host file handle >= 0, or -1. mode: "rb" or "wb". */
int tm_semihost_open(const char *path, const char *mode);
int tm_semihost_close(int handle);
/* Bytes actually transferred. */
size_t tm_semihost_read(int handle, void *buffer, size_t size);
size_t tm_semihost_write(int handle, const void *buffer, size_t size);
long tm_semihost_flen(int handle);
void tm_semihost_exit(int status) __attribute__((noreturn));

#endif /* TM_SEMIHOST_H */
