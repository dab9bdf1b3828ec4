/* Streaming preprocessing on the chip: causal fixed-point biquads, decimation, normalisation, a ring buffer of
 * the last window, majority-vote smoothing. The arithmetic is defined ONCE in tinymyo_edge/data/fixed.py (its
 * numpy reference); this file implements exactly that, integers only (no float until the model input).
 * The constants and coefficients come from stream_config.h, rendered by tinymyo_edge/targets/stream.py
 * (its tables are compiled into tm_stream.c only). */
#ifndef TM_STREAM_H
#define TM_STREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct { int32_t b0, b1, b2, a1, a2; } tm_biquad_t;   /* Q TM_STREAM_COEF_FRAC */
typedef struct { int32_t x1, x2, y1, y2; } tm_biquad_state_t;  /* Q TM_STREAM_SIGNAL_FRAC */

/* y = sat((b0*x + b1*x1 + b2*x2 - a1*y1 - a2*y2 + 2^(F-1)) >> F), direct form I; int64 sums (bounds: fixed.py). */
int32_t tm_biquad_step(const tm_biquad_t *q, tm_biquad_state_t *s, int32_t x);
/* z = sat(((y - mean_q) * scale_q + 2^(S-1)) >> S, +-2^24): Q TM_STREAM_OUT_FRAC. */
int32_t tm_stream_normalise(int32_t y, int32_t mean_q, int32_t scale_q);

/* Forget all filter state and samples (start of a stream). */
void tm_stream_reset(void);
/* One raw frame (TM_STREAM_CHANNELS int16 ADC codes). Returns 1 when a window is complete after it (the first
 * after TM_STREAM_WINDOW model samples, then every TM_STREAM_HOP), else 0. */
int tm_stream_push(const int16_t *frame);
/* The last window, channel-first (TM_STREAM_CHANNELS x TM_STREAM_WINDOW float32): the model's input. */
void tm_stream_window(float *dst);
/* Raw frames consumed so far. */
uint64_t tm_stream_frames(void);

/* Majority vote over the last TM_STREAM_SMOOTH classes (ties: the smallest class index). */
int tm_smooth_push(int cls);

#endif /* TM_STREAM_H */
