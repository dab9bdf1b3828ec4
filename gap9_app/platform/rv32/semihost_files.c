/* tm_file_read / tm_file_write over semihosting: shared by every bare-metal platform (rv32 under QEMU,
 * pulp-open under GVSoC); each platform supplies the tm_semihost_* calls of semihost.h. */
#include <stdio.h>

#include "semihost.h"
#include "tm_platform.h"

int tm_file_read(const char *path, void *buffer, size_t size)
{
    int handle = tm_semihost_open(path, "rb");
    if (handle < 0) {
        printf("error: cannot open %s (semihosting)\n", path);
        return -1;
    }
    long length = tm_semihost_flen(handle);
    size_t got = tm_semihost_read(handle, buffer, size);
    tm_semihost_close(handle);
    if (got != size || length != (long)size) {
        printf("error: %s: expected exactly %lu bytes\n", path, (unsigned long)size);
        return -1;
    }
    return 0;
}

int tm_file_write(const char *path, const void *buffer, size_t size)
{
    int handle = tm_semihost_open(path, "wb");
    if (handle < 0) {
        printf("error: cannot create %s (semihosting)\n", path);
        return -1;
    }
    size_t put = tm_semihost_write(handle, buffer, size);
    tm_semihost_close(handle);
    if (put != size) {
        printf("error: writing %s failed\n", path);
        return -1;
    }
    return 0;
}
