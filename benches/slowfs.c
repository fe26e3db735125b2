/*
 * benches/slowfs.c: a passthrough FUSE file system that adds a delay to
 * every operation, standing in for a slow (network) file system in
 * benches/slowfs.sh.
 *
 *   cc -O2 -Wall -o slowfs benches/slowfs.c $(pkg-config --cflags --libs fuse3)
 *   slowfs BACKING_DIR DELAY_US MOUNTPOINT [THREADS [FSYNC_US]]
 *
 * Every call that reaches it (getattr/lookup, create, open, read, write,
 * flush, release, rename, unlink, mkdir, readdir, xattrs, ...) sleeps
 * DELAY_US microseconds, then is passed on to BACKING_DIR. Up to THREADS
 * (default 64) libfuse workers serve calls at once, so callers that overlap
 * their calls (a pool of I/O threads) overlap the delays too, while a
 * caller that makes one call at a time pays each delay in full. The kernel
 * still caches attributes and names for 1 s (libfuse's defaults), as a
 * network file system's client would.
 *
 * FSYNC_US adds that much more to every fsync/fdatasync only: with
 * DELAY_US 0 and one file on it backing a loop device (benches/durable.sh
 * --slow-flush), a disk whose cache flushes are slow (an SD card), as the
 * loop device turns each flush it is sent into an fsync of its file.
 *
 * Runs in the foreground until unmounted (`umount MOUNTPOINT`) or sent
 * SIGINT/SIGTERM, then unmounts and prints how many calls it served.
 * Needs root (or /dev/fuse access) and libfuse 3 (Debian: libfuse3-dev).
 * C rather than Python: a Python file system (fusepy, mfusepy) tops out
 * near 6,000 calls/s on this machine with no delay at all, which would
 * measure the file system rather than the server.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int backing = -1;       /* descriptor of BACKING_DIR */
static char backing_path[4096];
static long delay_us;
static long fsync_us; /* more, for fsync and fdatasync only */
static atomic_ulong calls;

/* Sleeps the delay; returns the path relative to the backing directory. */
static const char *slow(const char *path)
{
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    if (delay_us > 0) {
        struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
        }
    }
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

/* /proc/self/fd/N names a file by descriptor for the path-only xattr calls. */
static void at_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", backing_path, rel);
}

#define RET(expr) return (expr) == -1 ? -errno : 0

static void *sf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->use_ino = 1;
    return NULL;
}

static int sf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    const char *p = slow(path);
    if (fi)
        RET(fstat((int)fi->fh, st));
    RET(fstatat(backing, p, st, AT_SYMLINK_NOFOLLOW));
}

static int sf_access(const char *path, int mask)
{
    RET(faccessat(backing, slow(path), mask, 0));
}

static int sf_readlink(const char *path, char *buf, size_t size)
{
    ssize_t n = readlinkat(backing, slow(path), buf, size - 1);
    if (n == -1)
        return -errno;
    buf[n] = '\0';
    return 0;
}

static int sf_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off;
    (void)fi;
    (void)flags;
    int fd = openat(backing, slow(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st = {0};
        st.st_ino = e->d_ino;
        st.st_mode = (mode_t)DTTOIF(e->d_type);
        if (filler(buf, e->d_name, &st, 0, 0))
            break;
    }
    closedir(d);
    return 0;
}

static int sf_mkdir(const char *path, mode_t mode) { RET(mkdirat(backing, slow(path), mode)); }
static int sf_unlink(const char *path) { RET(unlinkat(backing, slow(path), 0)); }
static int sf_rmdir(const char *path) { RET(unlinkat(backing, slow(path), AT_REMOVEDIR)); }

static int sf_symlink(const char *target, const char *path)
{
    RET(symlinkat(target, backing, slow(path)));
}

static int sf_rename(const char *from, const char *to, unsigned int flags)
{
    const char *f = slow(from);
    while (*to == '/')
        to++;
    RET(renameat2(backing, f, backing, to, flags));
}

static int sf_link(const char *from, const char *to)
{
    const char *f = slow(from);
    while (*to == '/')
        to++;
    RET(linkat(backing, f, backing, to, 0));
}

static int sf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    const char *p = slow(path);
    if (fi)
        RET(fchmod((int)fi->fh, mode));
    RET(fchmodat(backing, p, mode, 0));
}

static int sf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    const char *p = slow(path);
    if (fi)
        RET(fchown((int)fi->fh, uid, gid));
    RET(fchownat(backing, p, uid, gid, AT_SYMLINK_NOFOLLOW));
}

static int sf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    const char *p = slow(path);
    if (fi)
        RET(ftruncate((int)fi->fh, size));
    int fd = openat(backing, p, O_WRONLY | O_CLOEXEC);
    if (fd == -1)
        return -errno;
    int r = ftruncate(fd, size) == -1 ? -errno : 0;
    close(fd);
    return r;
}

static int sf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    const char *p = slow(path);
    if (fi)
        RET(futimens((int)fi->fh, tv));
    RET(utimensat(backing, p, tv, AT_SYMLINK_NOFOLLOW));
}

static int sf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int fd = openat(backing, slow(path), fi->flags | O_CLOEXEC, mode);
    if (fd == -1)
        return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int sf_open(const char *path, struct fuse_file_info *fi)
{
    int fd = openat(backing, slow(path), fi->flags | O_CLOEXEC);
    if (fd == -1)
        return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int sf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)slow(path ? path : "/");
    ssize_t n = pread((int)fi->fh, buf, size, off);
    return n == -1 ? -errno : (int)n;
}

static int sf_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)slow(path ? path : "/");
    ssize_t n = pwrite((int)fi->fh, buf, size, off);
    return n == -1 ? -errno : (int)n;
}

static int sf_statfs(const char *path, struct statvfs *st)
{
    (void)slow(path);
    RET(fstatvfs(backing, st));
}

static int sf_flush(const char *path, struct fuse_file_info *fi)
{
    (void)fi;
    (void)slow(path ? path : "/");
    return 0;
}

static int sf_release(const char *path, struct fuse_file_info *fi)
{
    (void)slow(path ? path : "/");
    close((int)fi->fh);
    return 0;
}

static int sf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)slow(path ? path : "/");
    struct timespec ts = {fsync_us / 1000000, (fsync_us % 1000000) * 1000};
    while (fsync_us > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
    RET(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}

static int sf_setxattr(const char *path, const char *name, const char *value, size_t size,
                       int flags)
{
    char full[8192];
    at_path(full, sizeof full, slow(path));
    RET(lsetxattr(full, name, value, size, flags));
}

static int sf_getxattr(const char *path, const char *name, char *value, size_t size)
{
    char full[8192];
    at_path(full, sizeof full, slow(path));
    ssize_t n = lgetxattr(full, name, value, size);
    return n == -1 ? -errno : (int)n;
}

static int sf_listxattr(const char *path, char *list, size_t size)
{
    char full[8192];
    at_path(full, sizeof full, slow(path));
    ssize_t n = llistxattr(full, list, size);
    return n == -1 ? -errno : (int)n;
}

static int sf_removexattr(const char *path, const char *name)
{
    char full[8192];
    at_path(full, sizeof full, slow(path));
    RET(lremovexattr(full, name));
}

static const struct fuse_operations ops = {
    .init = sf_init,
    .getattr = sf_getattr,
    .access = sf_access,
    .readlink = sf_readlink,
    .readdir = sf_readdir,
    .mkdir = sf_mkdir,
    .unlink = sf_unlink,
    .rmdir = sf_rmdir,
    .symlink = sf_symlink,
    .rename = sf_rename,
    .link = sf_link,
    .chmod = sf_chmod,
    .chown = sf_chown,
    .truncate = sf_truncate,
    .utimens = sf_utimens,
    .create = sf_create,
    .open = sf_open,
    .read = sf_read,
    .write = sf_write,
    .statfs = sf_statfs,
    .flush = sf_flush,
    .release = sf_release,
    .fsync = sf_fsync,
    .setxattr = sf_setxattr,
    .getxattr = sf_getxattr,
    .listxattr = sf_listxattr,
    .removexattr = sf_removexattr,
};

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s BACKING_DIR DELAY_US MOUNTPOINT [THREADS [FSYNC_US]]\n",
                argv[0]);
        return 2;
    }
    if (!realpath(argv[1], backing_path)) {
        perror(argv[1]);
        return 1;
    }
    backing = open(backing_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (backing == -1) {
        perror(argv[1]);
        return 1;
    }
    delay_us = strtol(argv[2], NULL, 10);
    fsync_us = argc == 6 ? strtol(argv[5], NULL, 10) : 0;
    char threads[64];
    snprintf(threads, sizeof threads, "max_threads=%s,max_idle_threads=%s,fsname=slowfs",
             argc >= 5 ? argv[4] : "64", argc >= 5 ? argv[4] : "64");
    char *fargv[] = {argv[0], "-f", "-o", threads, argv[3], NULL};
    int rc = fuse_main(5, fargv, &ops, NULL);
    fprintf(stderr, "slowfs: %lu calls served, %ld us each\n",
            atomic_load(&calls), delay_us);
    return rc;
}
