/* Host harness for platform/gap9/tm_l3_gap9.c (tests only): the flash/readfs/RAM calls it makes, implemented on the
 * host against the public declarations (../pmsis_decls). The readfs holds at most one file, given by the
 * environment: TM_FAKE_FILE=<name> with TM_FAKE_BYTES=<size>, TM_FAKE_READABLE=<bytes the flash really returns>
 * (a truncated image). main() calls tm_l3_open(argv[1], argv[2]) and prints the RAM copy's word sum. */
#include <stdlib.h>
#include <string.h>

#include "bsp/bsp.h"
#include "bsp/fs.h"
#include "bsp/fs/readfs.h"
#include "tm_pmsis_l3.h"
#include "tm_xfer.h"

struct pi_device *tm_l3_ram;
uint32_t tm_l3_ram_base;
uint32_t tm_l3_image_bytes;

static uint8_t ram_bytes[1 << 20];
static uint32_t ram_used, file_pos;
static pi_fs_file_t file;

static uint8_t image_byte(uint32_t i) { return (uint8_t)(i * 7u + 3u); }
static uint32_t env(const char *name) { const char *v = getenv(name); return v ? (uint32_t)strtoul(v, NULL, 0) : 0; }

void pi_open_from_conf(struct pi_device *device, void *conf) { device->config = conf, device->data = NULL; }
void pi_mx25u51245g_conf_init(struct pi_mx25u51245g_conf *conf) { memset(conf, 0, sizeof *conf); }
void pi_aps25xxxn_conf_init(struct pi_aps25xxxn_conf *conf) { memset(conf, 0, sizeof *conf); }
int pi_flash_open(struct pi_device *device) { (void)device; return 0; }
void pi_flash_close(struct pi_device *device) { (void)device; }
void pi_readfs_conf_init(struct pi_readfs_conf *conf) { memset(conf, 0, sizeof *conf); }
int32_t pi_fs_mount(struct pi_device *device) { return ((struct pi_readfs_conf *)device->config)->fs.flash ? 0 : -1; }
void pi_fs_unmount(struct pi_device *device) { (void)device; }

pi_fs_file_t *pi_fs_open(struct pi_device *device, const char *name, int flags)
{
    const char *have = getenv("TM_FAKE_FILE");
    if (flags != PI_FS_FLAGS_READ || have == NULL || strcmp(have, name) != 0) return NULL;
    file.fs = device, file.size = env("TM_FAKE_BYTES"), file_pos = 0;
    return &file;
}

void pi_fs_close(pi_fs_file_t *f) { (void)f; }

int32_t pi_fs_read(pi_fs_file_t *f, void *buffer, uint32_t size)
{
    uint32_t readable = getenv("TM_FAKE_READABLE") ? env("TM_FAKE_READABLE") : f->size;
    uint32_t n = file_pos + size <= readable ? size : (readable > file_pos ? readable - file_pos : 0);
    for (uint32_t i = 0; i < n; i++) ((uint8_t *)buffer)[i] = image_byte(file_pos + i);
    file_pos += n;
    return (int32_t)n;
}

int32_t pi_ram_open(struct pi_device *device) { (void)device; return 0; }
int pi_ram_alloc(struct pi_device *device, uint32_t *addr, uint32_t size)
{
    (void)device;
    if (ram_used + size > sizeof ram_bytes) return -1;
    *addr = ram_used + 0x1000u, ram_used += size; /* a non-zero base: offsets must be added */
    return 0;
}
void pi_ram_write(struct pi_device *device, uint32_t addr, void *data, uint32_t size)
{
    (void)device;
    memcpy(ram_bytes + addr - 0x1000u, data, size);
}
void *pi_l2_malloc(int size) { return malloc((size_t)size); }
void pi_l2_free(void *chunk, int size) { (void)size, free(chunk); }

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    uint32_t bytes = (uint32_t)strtoul(argv[2], NULL, 0);
    if (tm_l3_open(argv[1], bytes) != 0) return 1;
    uint32_t bad = 0;
    for (uint32_t i = 0; i < bytes; i++) bad += ram_bytes[tm_l3_ram_base - 0x1000u + i] != image_byte(i);
    printf("copied %lu bytes, %lu differ, base 0x%lx, ram %s\n", (unsigned long)tm_l3_image_bytes, (unsigned long)bad,
           (unsigned long)tm_l3_ram_base, tm_l3_ram ? "set" : "unset");
    return bad != 0;
}
