/* platform=gvsoc|board sample sources (see tm_source.h). NOT COMPILED in this project's CI (no GAP9 SDK here).
 *
 * Default: the recording file over the GAP9 SDK host file system, with the same calls as
 * platform/gap9/tm_platform_gap9.c (pi_hostfs_conf_init, pi_fs_mount, pi_fs_open, pi_fs_read, pi_fs_write).
 *
 * TM_SOURCE_ADS1298: an ADS1298-class SPI EMG front end in continuous-read mode (RDATAC). UNVERIFIED: written
 * against the PUBLISHED PMSIS SPI signatures only, never run on hardware:
 *   GreenWaves-Technologies/pmsis_api, include/pmsis/drivers/spi.h @ 66433aa6c9d741f34117a4544c860ed7456c5e41:
 *   void pi_spi_conf_init(struct pi_spi_conf *conf); int pi_spi_open(struct pi_device *device);
 *   void pi_spi_receive(struct pi_device *device, void *data, size_t len, pi_spi_flags_e flag)  (len in BITS);
 *   void pi_spi_send(struct pi_device *device, void *data, size_t len, pi_spi_flags_e flag); pi_open_from_conf.
 * Frame (ADS1298 datasheet, RDATAC): 24 status bits, then 8 channels x 24-bit two's complement, MSB first.
 * Each 24-bit code is reduced to int16 by dividing by 256 (truncating): the model must have been trained on data at that
 * scale. Missing before use on a board: waiting for DRDY (a GPIO) before each frame, the AFE's register set-up
 * (gain, rate = the model's fs_in), and checking TM_STREAM_CHANNELS <= 8. */
#include <stdio.h>

#include "tm_platform.h"
#include "tm_source.h"
#include "stream_config.h"

#if defined(TM_SOURCE_ADS1298)
#define ADS_CHANNELS 8
#define ADS_FRAME_BYTES (3 + 3 * ADS_CHANNELS)
#define ADS_SPI_ITF 0
#define ADS_SPI_CS 0
#define ADS_SPI_HZ 4000000
#define ADS_CMD_RDATAC 0x10
#define ADS_CMD_START 0x08

static struct pi_device spi;
static uint8_t frame_bytes[(ADS_FRAME_BYTES + 3) & ~3] __attribute__((aligned(4))); /* SPI buffers: 4-aligned */

int tm_source_open(const char *path)
{
    (void)path;
    struct pi_spi_conf conf;
    pi_spi_conf_init(&conf);
    conf.itf = ADS_SPI_ITF;
    conf.cs = ADS_SPI_CS;
    conf.max_baudrate = ADS_SPI_HZ;
    conf.wordsize = PI_SPI_WORDSIZE_8;
    conf.polarity = PI_SPI_POLARITY_0;
    conf.phase = PI_SPI_PHASE_1; /* ADS1298: CPOL 0, CPHA 1 */
    pi_open_from_conf(&spi, &conf);
    if (pi_spi_open(&spi) != 0) {
        printf("error: cannot open SPI interface %d for the EMG front end\n", ADS_SPI_ITF);
        return -1;
    }
    static uint8_t cmd[4] __attribute__((aligned(4)));
    cmd[0] = ADS_CMD_START;
    pi_spi_send(&spi, cmd, 8, PI_SPI_CS_AUTO);
    cmd[0] = ADS_CMD_RDATAC;
    pi_spi_send(&spi, cmd, 8, PI_SPI_CS_AUTO);
    return 0;
}

long tm_source_read(int16_t *frames, size_t max_frames)
{
    for (size_t f = 0; f < max_frames; f++) {
        pi_spi_receive(&spi, frame_bytes, 8 * ADS_FRAME_BYTES, PI_SPI_CS_AUTO); /* TODO: wait for DRDY first */
        for (int c = 0; c < TM_STREAM_CHANNELS; c++) {
            const uint8_t *p = &frame_bytes[3 + 3 * c];
            int32_t v = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8) / 256;
            frames[f * TM_STREAM_CHANNELS + (size_t)c] = (int16_t)(v / 256); /* 24-bit code -> int16 scale */
        }
    }
    return (long)max_frames; /* a live source never ends */
}

void tm_source_close(void) { pi_spi_close(&spi); }

#else /* the recording over the host file system */
#include "bsp/fs.h"
#include "bsp/fs/hostfs.h"

#define FRAME_BYTES (2 * TM_STREAM_CHANNELS)
static struct pi_device source_fs;
static pi_fs_file_t *source;

static int mount(struct pi_device *fs)
{
    struct pi_hostfs_conf conf;
    pi_hostfs_conf_init(&conf);
    pi_open_from_conf(fs, &conf);
    return pi_fs_mount(fs);
}

int tm_source_open(const char *path)
{
    if (mount(&source_fs) != 0 || (source = pi_fs_open(&source_fs, path, 0)) == NULL) {
        printf("error: cannot open the recording %s on the host\n", path);
        return -1;
    }
    return 0;
}

long tm_source_read(int16_t *frames, size_t max_frames)
{
    int got = pi_fs_read(source, frames, (unsigned int)(max_frames * FRAME_BYTES));
    if (got < 0 || got % FRAME_BYTES != 0) {
        printf("error: the recording ends in a partial frame (truncated)\n");
        return -1;
    }
    return got / FRAME_BYTES;
}

void tm_source_close(void)
{
    pi_fs_close(source);
    pi_fs_unmount(&source_fs);
}
#endif

#include "bsp/fs.h"
#include "bsp/fs/hostfs.h"
static struct pi_device sink_fs;
static pi_fs_file_t *sink;

int tm_sink_open(const char *path)
{
    if (path[0] == '\0') return 0;
    struct pi_hostfs_conf conf;
    pi_hostfs_conf_init(&conf);
    pi_open_from_conf(&sink_fs, &conf);
    if (pi_fs_mount(&sink_fs) != 0 || (sink = pi_fs_open(&sink_fs, path, PI_FS_FLAGS_WRITE)) == NULL) {
        printf("error: cannot create %s on the host\n", path);
        return -1;
    }
    return 0;
}

int tm_sink_write(const void *data, size_t bytes)
{
    return sink == NULL || pi_fs_write(sink, (void *)data, (unsigned int)bytes) == (int)bytes ? 0 : -1;
}

int tm_sink_close(void)
{
    if (sink != NULL) {
        pi_fs_close(sink);
        pi_fs_unmount(&sink_fs);
    }
    sink = NULL;
    return 0;
}
