/* Bare-metal sample source and hop sink over semihosting (rv32 under QEMU, pulp-open under GVSoC): the
 * host file stays open and each read continues where the last one ended (see tm_source.h). */
#include <stdio.h>

#include "semihost.h"
#include "tm_source.h"
#include "stream_config.h"

#define FRAME_BYTES (2L * TM_STREAM_CHANNELS)

static int source = -1;
static int sink = -1;
static const char *source_path;

int tm_source_open(const char *path)
{
    source_path = path;
    source = tm_semihost_open(path, "rb");
    if (source < 0) {
        printf("error: cannot open the recording %s (semihosting)\n", path);
        return -1;
    }
    long size = tm_semihost_flen(source);
    if (size <= 0 || size % FRAME_BYTES != 0) {
        printf("error: %s: %ld bytes is %s (frames of %d int16 channels = %ld bytes)\n", path, size,
               size == 0 ? "an empty recording" : "not a whole number of frames: truncated", TM_STREAM_CHANNELS,
               FRAME_BYTES);
        tm_semihost_close(source);
        source = -1;
        return -1;
    }
    return 0;
}

long tm_source_read(int16_t *frames, size_t max_frames)
{
    size_t got = tm_semihost_read(source, frames, max_frames * (size_t)FRAME_BYTES);
    if (got % (size_t)FRAME_BYTES != 0) {
        printf("error: reading %s returned a partial frame\n", source_path);
        return -1;
    }
    return (long)(got / (size_t)FRAME_BYTES);
}

void tm_source_close(void)
{
    if (source >= 0) tm_semihost_close(source);
    source = -1;
}

int tm_sink_open(const char *path)
{
    if (path[0] == '\0') return 0;
    sink = tm_semihost_open(path, "wb");
    if (sink < 0) printf("error: cannot create %s (semihosting)\n", path);
    return sink < 0 ? -1 : 0;
}

int tm_sink_write(const void *data, size_t bytes)
{
    if (sink >= 0 && tm_semihost_write(sink, data, bytes) != bytes) {
        printf("error: writing the hop records failed\n");
        return -1;
    }
    return 0;
}

int tm_sink_close(void)
{
    if (sink >= 0) tm_semihost_close(sink);
    sink = -1;
    return 0;
}
