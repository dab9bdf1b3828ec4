/* Per-layer counters: the network code's TM_LAYER_BEGIN/END store (name, ticks, ops) in a table during the
 * inference; the app prints it afterwards, so printing never perturbs what is measured. */
#include "tm_platform.h"

#ifndef TM_MAX_LAYERS
#define TM_MAX_LAYERS 512
#endif

typedef struct {
    const char *name;
    uint64_t ticks;
    uint64_t ops;
} tm_layer_record_t;

static tm_layer_record_t records[TM_MAX_LAYERS];
static int record_count;
static int records_dropped;
static tm_tick_t layer_start;

void tm_layers_reset(void)
{
    record_count = 0;
    records_dropped = 0;
}

void tm_layer_begin(void) { layer_start = tm_ticks_now(); }

void tm_layer_end(const char *name, uint64_t ops)
{
    tm_tick_t now = tm_ticks_now();
    if (record_count == TM_MAX_LAYERS) {
        records_dropped++;
        return;
    }
    records[record_count].name = name;
    records[record_count].ticks = tm_ticks_between(layer_start, now);
    records[record_count].ops = ops;
    record_count++;
}

uint64_t tm_layers_total_ticks(void)
{
    uint64_t total = 0;
    for (int i = 0; i < record_count; i++) total += records[i].ticks;
    return total;
}

uint64_t tm_layers_total_ops(void)
{
    uint64_t total = 0;
    for (int i = 0; i < record_count; i++) total += records[i].ops;
    return total;
}

char *tm_u64_text(char *buf, uint64_t v)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    for (int i = 0; i < n; i++) buf[i] = digits[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

char *tm_ratio_text(char *buf, uint64_t num, uint64_t den)
{
    if (den == 0u) {
        buf[0] = 'i', buf[1] = 'n', buf[2] = 'f', buf[3] = '\0';
        return buf;
    }
    uint64_t hundredths = (num * 100u + den / 2u) / den; /* rounded to 0.01 */
    char *end = buf + 32 - 4;
    tm_u64_text(buf, hundredths / 100u);
    char *p = buf;
    while (*p != '\0' && p < end) p++;
    p[0] = '.';
    p[1] = (char)('0' + (int)(hundredths % 100u / 10u));
    p[2] = (char)('0' + (int)(hundredths % 10u));
    p[3] = '\0';
    return buf;
}

static void print_line(const char *name, uint64_t ticks, uint64_t ops)
{
    char t[24], o[24], r[32];
    printf("%s: " TM_COUNTER_UNIT ": %s, Operations: %s, Operations/" TM_COUNTER_PER ": %s\n", name,
           tm_u64_text(t, ticks), tm_u64_text(o, ops), tm_ratio_text(r, ops, ticks));
}

void tm_layers_print(void)
{
    printf("Counter: %s\n", TM_COUNTER_SOURCE);
    for (int i = 0; i < record_count; i++) print_line(records[i].name, records[i].ticks, records[i].ops);
    if (records_dropped != 0) printf("warning: %d layers not recorded (raise TM_MAX_LAYERS)\n", records_dropped);
    print_line("Total", tm_layers_total_ticks(), tm_layers_total_ops());
}
