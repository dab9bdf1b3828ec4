/* Test stub: the PMSIS calls the streaming app's GAP9 paths make beyond tests/pmsis_decls/pmsis.h (which declares pi_task_t), declared with
 * the PUBLISHED signatures (not from what our code calls), so that those paths compile in CI (-fsyntax-only).
 * It proves nothing about the SDK itself. Sources (GreenWaves-Technologies/pmsis_api):
 *   include/pmsis/task.h @ 17500b77f16e851b9695ba2c45ae72b338fa1452: pi_task_block, pi_task_wait_on
 *   include/pmsis/cluster/cluster_sync/fc_to_cl_delegate.h @ fb84b7fa397ca2721afcde94b80de84292487c3f:
 *     int pi_cluster_send_task_to_cl_async(struct pi_device *device, struct pi_cluster_task *cl_task,
 *                                          pi_task_t *async_task)
 *   include/pmsis/drivers/spi.h @ 66433aa6c9d741f34117a4544c860ed7456c5e41: struct pi_spi_conf, the enums, and
 *     pi_spi_conf_init, pi_spi_open, pi_spi_close, pi_spi_send, pi_spi_receive */
#ifndef STREAM_SDK_STUB_EXTRA_H
#define STREAM_SDK_STUB_EXTRA_H
#include "pmsis.h"

pi_task_t *pi_task_block(pi_task_t *task);
void pi_task_wait_on(pi_task_t *task);
int pi_cluster_send_task_to_cl_async(struct pi_device *device, struct pi_cluster_task *cl_task, pi_task_t *async_task);

typedef enum { PI_SPI_WORDSIZE_8 = 0, PI_SPI_WORDSIZE_16 = 1, PI_SPI_WORDSIZE_32 = 2 } pi_spi_wordsize_e;
typedef enum { PI_SPI_POLARITY_0 = 0, PI_SPI_POLARITY_1 = 1 } pi_spi_polarity_e;
typedef enum { PI_SPI_PHASE_0 = 0, PI_SPI_PHASE_1 = 1 } pi_spi_phase_e;
typedef enum { PI_SPI_CS_AUTO = 0 << 0, PI_SPI_CS_KEEP = 1 << 0, PI_SPI_CS_NONE = 2 << 0 } pi_spi_flags_e;
struct pi_spi_conf {
    int max_baudrate;
    char wordsize;
    char big_endian;
    pi_spi_polarity_e polarity;
    pi_spi_phase_e phase;
    signed char cs;
    signed char itf;
    int max_rcv_chunk_size;
    int max_snd_chunk_size;
};
void pi_spi_conf_init(struct pi_spi_conf *conf);
int pi_spi_open(struct pi_device *device);
void pi_spi_close(struct pi_device *device);
void pi_spi_send(struct pi_device *device, void *data, size_t len, pi_spi_flags_e flag);
void pi_spi_receive(struct pi_device *device, void *data, size_t len, pi_spi_flags_e flag);
#endif
