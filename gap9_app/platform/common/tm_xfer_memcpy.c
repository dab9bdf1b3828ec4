/* tm_xfer.h on host and rv32: memcpy between separate L1 (network.c's tm_l1 arena), L2 (everything else: the L2
 * arena, weight slabs, L2 constants, I/O) and L3 (this file's copy of the weight image, filled by tm_l3_open).
 *
 * Normal build: a transfer copies at once and tm_xfer_wait returns at once.
 * Checking build (-DTM_CHECK_MEMORY, tm_check.h): a transfer is only recorded; its bytes move at tm_xfer_wait, so a
 * missing wait shows up as a read of bytes that have not landed. Every transfer is checked against the bounds of
 * its levels and the pending transfers (hazards); every kernel range against the layer's planned L1 buffers. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"
#include "tm_check.h"
#include "tm_xfer.h"

int tm_file_read(const char *path, void *buffer, size_t size); /* exact size or non-zero (platform / harness) */

static uint8_t tm_l3_image[TM_L3_REGION_BYTES] TM_ALIGNED(16); /* L3: the weight image (weights.bin) */
static uint32_t tm_l3_bytes; /* 0 until tm_l3_open succeeded */

int tm_l3_open(const char *image, uint32_t bytes)
{
    if (bytes > sizeof tm_l3_image) {
        printf("error: weight image of %lu bytes does not fit the L3 region (%lu bytes)\n", (unsigned long)bytes,
               (unsigned long)sizeof tm_l3_image);
        return -1;
    }
    if (tm_file_read(image, tm_l3_image, bytes) != 0) {
        printf("error: cannot load the weight image %s (%lu bytes, weights.bin of this build)\n", image,
               (unsigned long)bytes);
        return -1;
    }
    tm_l3_bytes = bytes;
    return 0;
}

#if !defined(TM_CHECK_MEMORY)
/* ------------------------------------------------------------------------------------------- plain build */
static void copy_2d(uint8_t *dst, uint32_t dst_stride, const uint8_t *src, uint32_t src_stride, uint32_t row_bytes,
                    uint32_t rows)
{
    for (uint32_t r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * dst_stride, src + (size_t)r * src_stride, row_bytes);
}

void tm_xfer_to_l1(void *l1, const void *l2, uint32_t bytes, tm_xfer_t *x)
{
    memcpy(l1, l2, bytes);
    x->pending = 0;
}
void tm_xfer_to_l1_2d(void *l1, const void *l2, uint32_t row_bytes, uint32_t rows, uint32_t l2_stride, tm_xfer_t *x)
{
    copy_2d(l1, row_bytes, l2, l2_stride, row_bytes, rows);
    x->pending = 0;
}
void tm_xfer_to_l2(void *l2, const void *l1, uint32_t bytes, tm_xfer_t *x)
{
    memcpy(l2, l1, bytes);
    x->pending = 0;
}
void tm_xfer_to_l2_2d(void *l2, const void *l1, uint32_t row_bytes, uint32_t rows, uint32_t l2_stride, tm_xfer_t *x)
{
    copy_2d(l2, l2_stride, l1, row_bytes, row_bytes, rows);
    x->pending = 0;
}
void tm_xfer_from_l3(void *l2, uint32_t l3_offset, uint32_t bytes, tm_xfer_t *x)
{
    memcpy(l2, tm_l3_image + l3_offset, bytes);
    x->pending = 0;
}
void tm_xfer_wait(tm_xfer_t *x) { x->pending = 0; }

#else
/* ---------------------------------------------------------------------------------------- checking build */
#define TM_CHECK_PENDING_MAX 64
#define TM_CHECK_BUFFERS_MAX 32

typedef struct {
    tm_xfer_t *handle;
    uint8_t *dst;
    const uint8_t *src;
    uint32_t row_bytes, rows, dst_stride, src_stride;
} pending_t;

static const char *layer = "(before the first layer)";
static const uint8_t *l1_base;
static uint32_t l1_size, transfers;
static pending_t pending[TM_CHECK_PENDING_MAX];
static int n_pending;
static struct {
    const uint8_t *p;
    uint32_t bytes;
} buffers[TM_CHECK_BUFFERS_MAX];
static int n_buffers;

static void fail(const char *what, const void *p, uint32_t bytes)
{
    printf("memory check failed in layer %s: %s (%p, %lu bytes)\n", layer, what, p, (unsigned long)bytes);
    fflush(stdout);
    exit(70);
}

static int overlaps(const uint8_t *a, uint32_t na, const uint8_t *b, uint32_t nb)
{
    return na && nb && a < b + nb && b < a + na;
}

static int inside(const uint8_t *p, uint32_t n, const uint8_t *base, uint32_t size)
{
    return p >= base && (uint32_t)(p - base) <= size && n <= size - (uint32_t)(p - base);
}

static uint32_t span(uint32_t rows, uint32_t row_bytes, uint32_t stride)
{
    return rows ? (rows - 1) * stride + row_bytes : 0;
}

/* Do two 2-D ranges (rows of w bytes, s apart) share a byte? Exact for equal strides (every tile store of one
 * output tensor), the spans otherwise. */
static int overlaps_2d(const uint8_t *a, uint32_t wa, uint32_t ra, uint32_t sa, const uint8_t *b, uint32_t wb,
                       uint32_t rb, uint32_t sb)
{
    if (ra == 1)
        sa = sb;
    if (rb == 1)
        sb = sa;
    if (!overlaps(a, span(ra, wa, sa), b, span(rb, wb, sb)))
        return 0;
    if (sa != sb || wa > sa || wb > sb || sa == 0)
        return 1;
    long d = (long)(b - a), s = (long)sa;
    long q = d >= 0 ? d / s : -((-d + s - 1) / s), rem = d - q * s; /* 0 <= rem < s */
    for (long shift = q; shift <= q + 1; shift++) { /* b's row r overlaps a's row r + shift */
        int hit = shift == q ? rem < (long)wa : rem + (long)wb > s;
        long lo = shift < 0 ? -shift : 0, hi = (long)rb < (long)ra - shift ? (long)rb : (long)ra - shift;
        if (hit && lo < hi)
            return 1;
    }
    return 0;
}

void tm_check_layer(const char *name, const void *l1, uint32_t l1_bytes)
{
    layer = name;
    l1_base = l1, l1_size = l1_bytes;
    n_buffers = 0, transfers = 0;
    if (n_pending)
        fail("a transfer of the previous layer is still pending", pending[0].dst, pending[0].row_bytes);
}

void tm_check_l1_buffer(const void *p, uint32_t bytes)
{
    if (!inside(p, bytes, l1_base, l1_size))
        fail("planned L1 buffer outside the L1 arena", p, bytes);
    if (n_buffers == TM_CHECK_BUFFERS_MAX)
        fail("too many planned L1 buffers", p, bytes);
    buffers[n_buffers].p = p, buffers[n_buffers].bytes = bytes;
    n_buffers++;
}

void tm_check_layer_end(uint32_t planned_transfers)
{
    if (n_pending)
        fail("transfer still pending at the end of the layer (a missing wait)", pending[0].dst, pending[0].row_bytes);
    if (transfers != planned_transfers) {
        printf("memory check failed in layer %s: %lu transfers ran, the plan has %lu\n", layer,
               (unsigned long)transfers, (unsigned long)planned_transfers);
        fflush(stdout);
        exit(70);
    }
}

/* Inside one planned L1 buffer of the current layer. */
static int in_planned(const uint8_t *p, uint32_t bytes)
{
    for (int i = 0; i < n_buffers; i++)
        if (inside(p, bytes, buffers[i].p, buffers[i].bytes))
            return 1;
    return 0;
}

void tm_check_kernel(const char *kernel, const char *what, const void *p, uint32_t bytes, int writes)
{
    static char text[160];
    const uint8_t *b = p;
    if (!bytes)
        return;
    snprintf(text, sizeof text, "kernel %s %s %s", kernel, writes ? "writes" : "reads", what);
    if (!in_planned(b, bytes)) {
        snprintf(text + strlen(text), sizeof text - strlen(text), " outside the layer's planned L1 buffers");
        fail(text, p, bytes);
    }
    for (int i = 0; i < n_pending; i++) {
        const pending_t *t = &pending[i];
        if (overlaps_2d(b, bytes, 1, bytes, t->dst, t->row_bytes, t->rows, t->dst_stride)) {
            snprintf(text + strlen(text), sizeof text - strlen(text), " while a transfer into it is pending");
            fail(text, p, bytes);
        }
        if (writes && overlaps_2d(b, bytes, 1, bytes, t->src, t->row_bytes, t->rows, t->src_stride)) {
            snprintf(text + strlen(text), sizeof text - strlen(text), " while a transfer out of it is pending");
            fail(text, p, bytes);
        }
    }
}

enum { L1, L2, L3 };

static void check_level(int level, const uint8_t *p, uint32_t bytes, const char *side)
{
    static char text[96];
    if (level == L1 && !in_planned(p, bytes)) {
        snprintf(text, sizeof text, "transfer %s outside the layer's planned L1 buffers", side);
        fail(text, p, bytes);
    }
    if (level == L2 && (overlaps(p, bytes, l1_base, l1_size) || overlaps(p, bytes, tm_l3_image, sizeof tm_l3_image))) {
        snprintf(text, sizeof text, "transfer %s is not in L2", side);
        fail(text, p, bytes);
    }
}

static void record(tm_xfer_t *x, int dst_level, uint8_t *dst, uint32_t dst_stride, int src_level,
                   const uint8_t *src, uint32_t src_stride, uint32_t row_bytes, uint32_t rows)
{
    uint32_t dn = span(rows, row_bytes, dst_stride), sn = span(rows, row_bytes, src_stride);
    if (x->pending)
        fail("handle restarted before its wait", dst, dn);
    check_level(dst_level, dst, dn, "destination");
    if (src_level != L3)
        check_level(src_level, src, sn, "source");
    for (int i = 0; i < n_pending; i++) {
        const pending_t *t = &pending[i];
        if (overlaps_2d(dst, row_bytes, rows, dst_stride, t->dst, t->row_bytes, t->rows, t->dst_stride) ||
            overlaps_2d(dst, row_bytes, rows, dst_stride, t->src, t->row_bytes, t->rows, t->src_stride))
            fail("transfer destination overlaps a pending transfer", dst, dn);
        if (src_level != L3 && overlaps_2d(src, row_bytes, rows, src_stride, t->dst, t->row_bytes, t->rows, t->dst_stride))
            fail("transfer source overlaps the destination of a pending transfer", src, sn);
    }
    if (n_pending == TM_CHECK_PENDING_MAX)
        fail("too many pending transfers", dst, dn);
    pending[n_pending++] = (pending_t){x, dst, src, row_bytes, rows, dst_stride, src_stride};
    x->pending = 1, x->dst = dst, x->bytes = dn;
    transfers++;
}

void tm_xfer_to_l1(void *l1, const void *l2, uint32_t bytes, tm_xfer_t *x)
{
    record(x, L1, l1, bytes, L2, l2, bytes, bytes, 1);
}
void tm_xfer_to_l1_2d(void *l1, const void *l2, uint32_t row_bytes, uint32_t rows, uint32_t l2_stride, tm_xfer_t *x)
{
    record(x, L1, l1, row_bytes, L2, l2, l2_stride, row_bytes, rows);
}
void tm_xfer_to_l2(void *l2, const void *l1, uint32_t bytes, tm_xfer_t *x)
{
    record(x, L2, l2, bytes, L1, l1, bytes, bytes, 1);
}
void tm_xfer_to_l2_2d(void *l2, const void *l1, uint32_t row_bytes, uint32_t rows, uint32_t l2_stride, tm_xfer_t *x)
{
    record(x, L2, l2, l2_stride, L1, l1, row_bytes, row_bytes, rows);
}
void tm_xfer_from_l3(void *l2, uint32_t l3_offset, uint32_t bytes, tm_xfer_t *x)
{
    if (l3_offset > tm_l3_bytes || bytes > tm_l3_bytes - l3_offset)
        fail("L3 read beyond the weight image (tm_l3_open not called, or a bad offset)", l2, bytes);
    record(x, L2, l2, bytes, L3, tm_l3_image + l3_offset, bytes, bytes, 1);
}

void tm_xfer_wait(tm_xfer_t *x)
{
    for (int i = 0; i < n_pending; i++) {
        pending_t *t = &pending[i];
        if (t->handle != x)
            continue;
        for (uint32_t r = 0; r < t->rows; r++)
            memcpy(t->dst + (size_t)r * t->dst_stride, t->src + (size_t)r * t->src_stride, t->row_bytes);
        pending[i] = pending[--n_pending];
        break;
    }
    x->pending = 0;
}
#endif
