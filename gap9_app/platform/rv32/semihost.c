#include "semihost.h"

#include <string.h>

enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_FLEN = 0x0C,
    SYS_EXIT_EXTENDED = 0x20,
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

long tm_semihost_call(long operation, void *argument); /* crt0.S */

void tm_semihost_write0(const char *text) { tm_semihost_call(SYS_WRITE0, (void *)text); }

int tm_semihost_open(const char *path, const char *mode)
{
    /* Semihosting file modes: 1 = "rb", 5 = "wb". */
    long block[3] = {(long)path, mode[0] == 'w' ? 5 : 1, (long)strlen(path)};
    return (int)tm_semihost_call(SYS_OPEN, block);
}

int tm_semihost_close(int handle)
{
    long block[1] = {handle};
    return (int)tm_semihost_call(SYS_CLOSE, block);
}

size_t tm_semihost_read(int handle, void *buffer, size_t size)
{
    long block[3] = {handle, (long)buffer, (long)size};
    return size - (size_t)tm_semihost_call(SYS_READ, block); /* the call returns the bytes NOT read */
}

size_t tm_semihost_write(int handle, const void *buffer, size_t size)
{
    long block[3] = {handle, (long)buffer, (long)size};
    return size - (size_t)tm_semihost_call(SYS_WRITE, block);
}

long tm_semihost_flen(int handle)
{
    long block[1] = {handle};
    return tm_semihost_call(SYS_FLEN, block);
}

void tm_semihost_exit(int status)
{
    long block[2] = {ADP_STOPPED_APPLICATION_EXIT, status};
    tm_semihost_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
