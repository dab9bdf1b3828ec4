/* GAP9 (GAP9 SDK): tm_l3_open copies the weight image once from the flash's read-only file system (readfs, where the
 * SDK's CMake readfs_add_files() flashes weights.bin, as the GAP9 NNTool apps keep their tensors) into the external
 * RAM (pi_ram_alloc + pi_ram_write in chunks, on the FC); the cluster then reads that copy with pi_cl_ram_read
 * (tm_xfer_from_l3, platform/pmsis/tm_xfer_pmsis.c). Why a RAM copy: the cluster can read RAM itself, the flash
 * file system is an FC-side driver, and the RAM's latency is the lower one. */
#include "bsp/bsp.h"
#include "bsp/fs.h"
#include "bsp/fs/readfs.h"
#include "tm_pmsis_l3.h"
#include "tm_xfer.h"

#define TM_L3_COPY_CHUNK (16u * 1024u) /* L2 bounce buffer: flash -> L2 -> RAM */

static struct pi_device flash, fs, ram;

static int open_readfs(void)
{
    static struct pi_default_flash_conf flash_conf; /* kept alive while the devices are open */
    static struct pi_readfs_conf fs_conf;
    pi_default_flash_conf_init(&flash_conf);
    pi_open_from_conf(&flash, &flash_conf);
    if (pi_flash_open(&flash) != 0) {
        printf("error: cannot open the flash that holds the weight image\n");
        return -1;
    }
    pi_readfs_conf_init(&fs_conf);
    fs_conf.fs.flash = &flash;
    pi_open_from_conf(&fs, &fs_conf);
    if (pi_fs_mount(&fs) != 0) {
        printf("error: no read-only file system (readfs) in the flash: flash the app with its weights first\n");
        return -1;
    }
    return 0;
}

static int open_ram(uint32_t bytes)
{
    static struct pi_default_ram_conf ram_conf;
    pi_default_ram_conf_init(&ram_conf);
    pi_open_from_conf(&ram, &ram_conf);
    if (pi_ram_open(&ram) != 0) {
        printf("error: cannot open the external RAM (L3)\n");
        return -1;
    }
    if (pi_ram_alloc(&ram, &tm_l3_ram_base, bytes) != 0) {
        printf("error: the weight image (%lu bytes) does not fit in the external RAM\n", (unsigned long)bytes);
        return -1;
    }
    return 0;
}

/* Exactly `bytes` bytes from the file into RAM at tm_l3_ram_base; a short read stops with the byte it reached. */
static int copy_file(const char *image, pi_fs_file_t *file, uint32_t bytes, uint8_t *chunk)
{
    for (uint32_t done = 0; done < bytes;) {
        uint32_t n = bytes - done < TM_L3_COPY_CHUNK ? bytes - done : TM_L3_COPY_CHUNK;
        int32_t got = pi_fs_read(file, chunk, n);
        if (got != (int32_t)n) {
            printf("error: %s is short: read %lu of %lu bytes\n", image, (unsigned long)(done + (got > 0 ? got : 0)),
                   (unsigned long)bytes);
            return -1;
        }
        pi_ram_write(&ram, tm_l3_ram_base + done, chunk, n);
        done += n;
    }
    return 0;
}

int tm_l3_open(const char *image, uint32_t bytes)
{
    if (open_readfs() != 0) return -1;
    pi_fs_file_t *file = pi_fs_open(&fs, image, PI_FS_FLAGS_READ);
    if (file == NULL) {
        printf("error: %s is not in the flash's readfs (the CMake project flashes it with readfs_add_files)\n", image);
        return -1;
    }
    if (file->size != bytes) { /* another build's image, or a truncated one */
        printf("error: %s in the flash has %lu bytes, this network needs %lu: rebuild and reflash\n", image,
               (unsigned long)file->size, (unsigned long)bytes);
        pi_fs_close(file);
        return -1;
    }
    uint8_t *chunk = pi_l2_malloc((int)TM_L3_COPY_CHUNK);
    int status = chunk == NULL || open_ram(bytes) != 0 ? -1 : copy_file(image, file, bytes, chunk);
    if (chunk == NULL) printf("error: no L2 left for the weight copy buffer (%u bytes)\n", (unsigned)TM_L3_COPY_CHUNK);
    if (chunk != NULL) pi_l2_free(chunk, (int)TM_L3_COPY_CHUNK);
    pi_fs_close(file);
    pi_fs_unmount(&fs);
    pi_flash_close(&flash);
    if (status != 0) return -1;
    tm_l3_ram = &ram;
    tm_l3_image_bytes = bytes;
    return 0;
}
