/* platform=gvsoc|board: the GAP9 SDK side of the platform layer. Files go through the host file system
 * (semihosting over the debug bridge on the board, the simulator's host access on GVSoC). */
#include "bsp/fs.h"
#include "bsp/fs/hostfs.h"
#include "tm_platform.h"

static int mount_host_fs(struct pi_device *fs)
{
    struct pi_hostfs_conf conf;
    pi_hostfs_conf_init(&conf);
    pi_open_from_conf(fs, &conf);
    if (pi_fs_mount(fs) != 0) {
        printf("error: cannot mount the host file system\n");
        return -1;
    }
    return 0;
}

int tm_file_read(const char *path, void *buffer, size_t size)
{
    struct pi_device fs;
    if (mount_host_fs(&fs) != 0) return -1;
    pi_fs_file_t *file = pi_fs_open(&fs, path, 0);
    if (file == NULL) {
        printf("error: cannot open %s on the host\n", path);
        pi_fs_unmount(&fs);
        return -1;
    }
    int got = pi_fs_read(file, buffer, size);
    pi_fs_close(file);
    pi_fs_unmount(&fs);
    if (got != (int)size) {
        printf("error: %s: expected exactly %u bytes, read %d\n", path, (unsigned)size, got);
        return -1;
    }
    return 0;
}

int tm_file_write(const char *path, const void *buffer, size_t size)
{
    struct pi_device fs;
    if (mount_host_fs(&fs) != 0) return -1;
    pi_fs_file_t *file = pi_fs_open(&fs, path, PI_FS_FLAGS_WRITE);
    if (file == NULL) {
        printf("error: cannot create %s on the host\n", path);
        pi_fs_unmount(&fs);
        return -1;
    }
    int put = pi_fs_write(file, (void *)buffer, size);
    pi_fs_close(file);
    pi_fs_unmount(&fs);
    return put == (int)size ? 0 : -1;
}
