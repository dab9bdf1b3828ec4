/* Where raw samples come from and where each hop's record goes: a small platform interface with one
 * implementation per platform family (no malloc; one source and one sink, static state):
 *   tm_source_stdio.c     host: a file of little-endian int16 frames (T x TM_STREAM_CHANNELS)
 *   tm_source_semihost.c  rv32 under QEMU, pulp-open under GVSoC: the same file over semihosting
 *   tm_source_gap9.c      gvsoc/board: the same file over the GAP9 SDK host file system (pi_fs), or with
 *                         TM_SOURCE_ADS1298 an SPI EMG front end (UNVERIFIED without hardware) */
#ifndef TM_SOURCE_H
#define TM_SOURCE_H

#include <stddef.h>
#include <stdint.h>

/* 0 on success; non-zero after printing why (missing, empty, or not a whole number of frames: truncated). */
int tm_source_open(const char *path);
/* Up to max_frames frames into `frames`; returns frames read, 0 at the end, < 0 on an error (printed). */
long tm_source_read(int16_t *frames, size_t max_frames);
void tm_source_close(void);

/* The hop records (window then logits, float32) for validate; path "" means none. 0 on success. */
int tm_sink_open(const char *path);
int tm_sink_write(const void *data, size_t bytes);
int tm_sink_close(void);

#endif /* TM_SOURCE_H */
