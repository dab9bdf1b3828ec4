/* Greedy CTC decoding (tinymyo_edge/speech/ctc.py is the Python reference): argmax per frame (first maximum),
 * collapse repeats, drop the blank, map to characters. Runs once, on one core, after the network. */
#include "tm_speech_kernels.h"

int tm_ctc_greedy(const float *logits, int n, int v, int blank, const char *alphabet, char *text, int cap)
{
    int len = 0, prev = -1;
    for (int t = 0; t < n; t++) {
        const float *row = logits + (long)t * v; /* (V) */
        int best = 0;
        for (int c = 1; c < v; c++)
            if (row[c] > row[best])
                best = c;
        if (best != prev && best != blank && len < cap - 1)
            text[len++] = alphabet[best < blank ? best : best - 1];
        prev = best;
    }
    if (cap > 0)
        text[len] = 0;
    return len;
}
