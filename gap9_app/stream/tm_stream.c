/* See tm_stream.h. Formulas: tinymyo_edge/data/fixed.py (the one definition). */
#include "tm_stream.h"
#define TM_STREAM_DEFINE_TABLES
#include "stream_config.h"

#include <string.h>

#define TM_SECTION_SLOTS (TM_STREAM_SECTIONS > 0 ? TM_STREAM_SECTIONS : 1) /* C has no empty arrays */

static tm_biquad_state_t filt[TM_SECTION_SLOTS][TM_STREAM_CHANNELS];
static int32_t ring[TM_STREAM_WINDOW][TM_STREAM_CHANNELS]; /* normalised z, time-major; ring_head = oldest */
static uint32_t ring_head;
static uint64_t frames;   /* raw frames consumed */
static uint64_t kept;     /* model-rate samples produced */
static uint32_t decim_phase; /* frames % TM_STREAM_DECIMATION */
static int smooth_hist[TM_STREAM_SMOOTH];
static uint32_t smooth_count;

static int64_t sat64(int64_t v, int64_t limit) { return v > limit ? limit : (v < -limit ? -limit : v); }

int32_t tm_biquad_step(const tm_biquad_t *q, tm_biquad_state_t *s, int32_t x)
{
    int64_t acc = (int64_t)q->b0 * x + (int64_t)q->b1 * s->x1 + (int64_t)q->b2 * s->x2
                - (int64_t)q->a1 * s->y1 - (int64_t)q->a2 * s->y2;
    /* >> of a negative int64 is an arithmetic shift in gcc/clang (documented implementation behaviour) */
    int32_t y = (int32_t)sat64((acc + ((int64_t)1 << (TM_STREAM_COEF_FRAC - 1))) >> TM_STREAM_COEF_FRAC,
                               TM_STREAM_SIGNAL_LIMIT);
    s->x2 = s->x1;
    s->x1 = x;
    s->y2 = s->y1;
    s->y1 = y;
    return y;
}

int32_t tm_stream_normalise(int32_t y, int32_t mean_q, int32_t scale_q)
{
    int64_t v = ((int64_t)y - mean_q) * scale_q + ((int64_t)1 << (TM_STREAM_NORM_SHIFT - 1));
    return (int32_t)sat64(v >> TM_STREAM_NORM_SHIFT, TM_STREAM_OUT_LIMIT);
}

void tm_stream_reset(void)
{
    memset(filt, 0, sizeof filt);
    memset(ring, 0, sizeof ring);
    ring_head = 0;
    frames = kept = 0;
    decim_phase = 0;
    smooth_count = 0;
}

int tm_stream_push(const int16_t *frame)
{
    int keep = decim_phase == 0;
    for (int c = 0; c < TM_STREAM_CHANNELS; c++) {
        int32_t x = (int32_t)frame[c] * (1 << TM_STREAM_SIGNAL_FRAC); /* a multiply: << of a negative is UB */
        for (int s = 0; s < TM_STREAM_SECTIONS; s++) x = tm_biquad_step(&tm_stream_sections[s], &filt[s][c], x);
        if (keep) ring[ring_head][c] = tm_stream_normalise(x, tm_stream_mean_q[c], tm_stream_scale_q[c]);
    }
    frames++;
    decim_phase = decim_phase + 1 == TM_STREAM_DECIMATION ? 0 : decim_phase + 1;
    if (!keep) return 0;
    ring_head = ring_head + 1 == TM_STREAM_WINDOW ? 0 : ring_head + 1;
    kept++;
    return kept >= TM_STREAM_WINDOW && (kept - TM_STREAM_WINDOW) % TM_STREAM_HOP == 0;
}

void tm_stream_window(float *dst)
{
    const float unit = 1.0f / (float)(1L << TM_STREAM_OUT_FRAC); /* exact: a power of two */
    for (int t = 0; t < TM_STREAM_WINDOW; t++) {
        uint32_t slot = (ring_head + (uint32_t)t) % TM_STREAM_WINDOW; /* ring_head: the oldest sample */
        for (int c = 0; c < TM_STREAM_CHANNELS; c++) dst[c * TM_STREAM_WINDOW + t] = (float)ring[slot][c] * unit;
    }
}

uint64_t tm_stream_frames(void) { return frames; }

int tm_smooth_push(int cls)
{
    smooth_hist[smooth_count % TM_STREAM_SMOOTH] = cls;
    smooth_count++;
    uint32_t n = smooth_count < TM_STREAM_SMOOTH ? smooth_count : TM_STREAM_SMOOTH;
    int best = -1, best_votes = 0;
    for (int k = 0; k < TM_STREAM_CLASSES; k++) {
        int votes = 0;
        for (uint32_t i = 0; i < n; i++) votes += smooth_hist[i] == k;
        if (votes > best_votes) best = k, best_votes = votes;
    }
    return best;
}
