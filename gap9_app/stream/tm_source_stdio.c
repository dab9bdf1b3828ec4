/* Host sample source and hop sink: stdio files (see tm_source.h). */
#include <stdio.h>

#include "tm_source.h"
#include "stream_config.h"

#define FRAME_BYTES (2L * TM_STREAM_CHANNELS)

static FILE *source;
static const char *source_path;
static FILE *sink;

int tm_source_open(const char *path)
{
    source_path = path;
    source = fopen(path, "rb");
    if (source == NULL) {
        printf("error: cannot open the recording %s\n", path);
        return -1;
    }
    long size = fseek(source, 0, SEEK_END) == 0 ? ftell(source) : -1;
    if (size <= 0 || size % FRAME_BYTES != 0 || fseek(source, 0, SEEK_SET) != 0) {
        printf("error: %s: %ld bytes is %s (frames of %d int16 channels = %ld bytes)\n", path, size,
               size == 0 ? "an empty recording" : "not a whole number of frames: truncated", TM_STREAM_CHANNELS,
               FRAME_BYTES);
        fclose(source);
        source = NULL;
        return -1;
    }
    return 0;
}

long tm_source_read(int16_t *frames, size_t max_frames)
{
    size_t got = fread(frames, (size_t)FRAME_BYTES, max_frames, source);
    if (got < max_frames && ferror(source)) {
        printf("error: reading %s failed\n", source_path);
        return -1;
    }
    return (long)got;
}

void tm_source_close(void)
{
    if (source != NULL) fclose(source);
    source = NULL;
}

int tm_sink_open(const char *path)
{
    if (path[0] == '\0') return 0;
    sink = fopen(path, "wb");
    if (sink == NULL) printf("error: cannot create %s\n", path);
    return sink == NULL ? -1 : 0;
}

int tm_sink_write(const void *data, size_t bytes)
{
    if (sink != NULL && fwrite(data, 1, bytes, sink) != bytes) {
        printf("error: writing the hop records failed\n");
        return -1;
    }
    return 0;
}

int tm_sink_close(void)
{
    int status = sink != NULL && fclose(sink) != 0 ? -1 : 0;
    sink = NULL;
    return status;
}
