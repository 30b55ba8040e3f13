#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

int clinux_openat2(int directory, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, directory, path, &how, sizeof how);
}

int clinux_unshare(int flags) { return unshare(flags); }
const int clinux_clone_newns = CLONE_NEWNS;
const int clinux_clone_fs = CLONE_FS;
const int clinux_clone_newpid = CLONE_NEWPID;

int clinux_statfs_type(const char *path, unsigned long *type) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    *type = (unsigned long)info.f_type;
    return 0;
}
const unsigned long clinux_overlayfs_super_magic = OVERLAYFS_SUPER_MAGIC;

ssize_t clinux_llistxattr(const char *path, char *names, size_t size) { return llistxattr(path, names, size); }
ssize_t clinux_lgetxattr(const char *path, const char *name, void *value, size_t size) { return lgetxattr(path, name, value, size); }
int clinux_lremovexattr(const char *path, const char *name) { return lremovexattr(path, name); }

int clinux_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

pid_t clinux_fork_namespace_init(int *keepalive) {
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) return -1;
    pid_t child = fork();
    if (child < 0) {
        int saved = errno;
        close(ends[0]);
        close(ends[1]);
        errno = saved;
        return -1;
    }
    if (child == 0) {
        /* Descriptors the build holds (its output directory's lock among them) must not stay open here. */
        if (ends[0] != 0) dup2(ends[0], 0);
        if (syscall(SYS_close_range, 1U, ~0U, 0U) != 0) {
            for (int fd = 1; fd < 65536; fd++) close(fd);
        }
        char byte;
        for (;;) {
            ssize_t count = read(0, &byte, 1);
            if (count == 0 || (count < 0 && errno != EINTR)) _exit(0);
        }
    }
    close(ends[0]);
    *keepalive = ends[1];
    return child;
}
