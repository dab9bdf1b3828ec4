/* Test stub of the GAP9 SDK's bsp/fs.h (see ../pmsis.h). */
#ifndef GAP9_SDK_STUB_FS_H
#define GAP9_SDK_STUB_FS_H
#include "pmsis.h"
typedef struct pi_fs_file_s pi_fs_file_t;
#define PI_FS_FLAGS_WRITE 1
int pi_fs_mount(struct pi_device *device);
void pi_fs_unmount(struct pi_device *device);
pi_fs_file_t *pi_fs_open(struct pi_device *device, const char *file, int flags);
void pi_fs_close(pi_fs_file_t *file);
int32_t pi_fs_read(pi_fs_file_t *file, void *buffer, uint32_t size);
int32_t pi_fs_write(pi_fs_file_t *file, void *buffer, uint32_t size);
#endif
