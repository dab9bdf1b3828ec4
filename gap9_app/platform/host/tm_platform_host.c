/* platform=host: the PMSIS shim on a POSIX machine (memory from malloc, time from CLOCK_MONOTONIC, files by stdio). */
/* clock_gettime: the Makefile passes -D_POSIX_C_SOURCE=200809L (headers are included before this file's text) */
#include <stdlib.h>
#include <time.h>

#include "tm_platform.h"

uint64_t tm_shim_counter(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

void *pi_l2_malloc(size_t size) { return malloc(size); }
void pi_l2_free(void *chunk, size_t size)
{
    (void)size;
    free(chunk);
}
void *pi_cl_l1_malloc(struct pi_device *device, size_t size)
{
    (void)device;
    return malloc(size);
}
void pi_cl_l1_free(struct pi_device *device, void *chunk, size_t size)
{
    (void)device;
    (void)size;
    free(chunk);
}
void *pi_fc_l1_malloc(size_t size) { return malloc(size); }
void pi_fc_l1_free(void *chunk, size_t size)
{
    (void)size;
    free(chunk);
}

void pmsis_exit(int status)
{
    fflush(stdout);
    exit(status);
}

int tm_file_read(const char *path, void *buffer, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("error: cannot open %s\n", path);
        return -1;
    }
    size_t got = fread(buffer, 1, size, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != size || extra) {
        printf("error: %s: expected exactly %lu bytes\n", path, (unsigned long)size);
        return -1;
    }
    return 0;
}

int tm_file_write(const char *path, const void *buffer, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        printf("error: cannot create %s\n", path);
        return -1;
    }
    size_t put = fwrite(buffer, 1, size, f);
    int closed = fclose(f);
    if (put != size || closed != 0) {
        printf("error: writing %s failed\n", path);
        return -1;
    }
    return 0;
}
