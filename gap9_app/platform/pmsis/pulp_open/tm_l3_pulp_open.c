/* pulp-open (the open PULP SDK on GVSoC): tm_l3_open copies the weight image from the HyperFlash into the
 * HyperRAM once (pi_flash_read + pi_ram_write in chunks, FC side); tm_xfer_from_l3 then reads the HyperRAM copy.
 *
 * The HyperFlash holds a raw image written by the app's Makefile (platform=pulp-open) from weights.bin:
 *   bytes 0..15   header: magic "TMW1", image bytes, sum of the image's little-endian 32-bit words, 0
 *   bytes 16..    weights.bin, zero-padded to a multiple of 4
 * so that a missing image (no magic), one of another build (other size) or a short one (sum differs: the flash
 * reads zeros past what was written) gives a clear error instead of wrong outputs. */
#include "bsp/bsp.h"
#include "bsp/flash/hyperflash.h"
#include "bsp/ram/hyperram.h"
#include "tm_pmsis_l3.h"
#include "tm_xfer.h"

#define TM_L3_MAGIC 0x31574D54u /* "TMW1" little-endian */
#define TM_L3_HEADER_BYTES 16u
#define TM_L3_COPY_CHUNK (16u * 1024u)

static struct pi_device flash, ram;

static int open_devices(void)
{
    static struct pi_hyperflash_conf flash_conf;
    static struct pi_hyperram_conf ram_conf;
    pi_hyperflash_conf_init(&flash_conf);
    pi_open_from_conf(&flash, &flash_conf);
    if (pi_flash_open(&flash) != 0) {
        printf("error: cannot open the HyperFlash (weight image)\n");
        return -1;
    }
    pi_hyperram_conf_init(&ram_conf);
    pi_open_from_conf(&ram, &ram_conf);
    if (pi_ram_open(&ram) != 0) {
        printf("error: cannot open the HyperRAM (L3)\n");
        return -1;
    }
    return 0;
}

static int check_header(const char *image, const uint32_t header[4], uint32_t bytes)
{
    if (header[0] != TM_L3_MAGIC) {
        printf("error: no weight image in the HyperFlash (%s: magic 0x%08lx, expected 0x%08lx); the Makefile writes "
               "it from weights.bin\n", image, (unsigned long)header[0], (unsigned long)TM_L3_MAGIC);
        return -1;
    }
    if (header[1] != bytes) {
        printf("error: the weight image in the HyperFlash (%s) has %lu bytes, this network needs %lu\n", image,
               (unsigned long)header[1], (unsigned long)bytes);
        return -1;
    }
    return 0;
}

/* Flash -> L2 chunk -> HyperRAM, summing the words on the way; 0 when the sum matches the header's. */
static int copy_image(const char *image, uint32_t bytes, uint32_t expected_sum, uint8_t *chunk)
{
    uint32_t sum = 0, padded = (bytes + 3u) & ~3u;
    for (uint32_t done = 0; done < padded; done += TM_L3_COPY_CHUNK) {
        uint32_t n = padded - done < TM_L3_COPY_CHUNK ? padded - done : TM_L3_COPY_CHUNK;
        pi_flash_read(&flash, TM_L3_HEADER_BYTES + done, chunk, n);
        for (uint32_t i = 0; i < n; i += 4)
            sum += (uint32_t)chunk[i] | (uint32_t)chunk[i + 1] << 8 | (uint32_t)chunk[i + 2] << 16 |
                   (uint32_t)chunk[i + 3] << 24;
        pi_ram_write(&ram, tm_l3_ram_base + done, chunk, n);
    }
    if (sum != expected_sum) {
        printf("error: the weight image in the HyperFlash (%s) is short or damaged (word sum 0x%08lx, header "
               "0x%08lx)\n", image, (unsigned long)sum, (unsigned long)expected_sum);
        return -1;
    }
    return 0;
}

int tm_l3_open(const char *image, uint32_t bytes)
{
    static PI_L2 uint32_t header[4];
    if (open_devices() != 0) return -1;
    pi_flash_read(&flash, 0, header, sizeof header);
    if (check_header(image, header, bytes) != 0) return -1;
    if (pi_ram_alloc(&ram, &tm_l3_ram_base, (bytes + 3u) & ~3u) != 0) {
        printf("error: the weight image (%lu bytes) does not fit in the HyperRAM\n", (unsigned long)bytes);
        return -1;
    }
    uint8_t *chunk = pi_l2_malloc(TM_L3_COPY_CHUNK);
    if (chunk == NULL) {
        printf("error: no L2 left for the weight copy buffer (%u bytes)\n", (unsigned)TM_L3_COPY_CHUNK);
        return -1;
    }
    int status = copy_image(image, bytes, header[2], chunk);
    pi_l2_free(chunk, TM_L3_COPY_CHUNK);
    pi_flash_close(&flash);
    if (status != 0) return -1;
    tm_l3_ram = &ram;
    tm_l3_image_bytes = bytes;
    return 0;
}
