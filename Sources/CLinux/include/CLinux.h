// The Linux calls that glibc 2.36 does not wrap, or declares only under _GNU_SOURCE (which Swift's Glibc module
// is not built with). Each returns what the system call returns and leaves errno set on failure; the Posix module
// calls them through its `systemCall` door and is the only module that imports this one.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/openat2.h> /* RESOLVE_* */

/// openat2(2), which glibc 2.36 does not wrap: opens `path` relative to the directory `directory` with
/// `struct open_how` { flags, mode, resolve } (`resolve`: linux/openat2.h's RESOLVE_* bits). A new descriptor,
/// or -1.
int clinux_openat2(int directory, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// unshare(2) (declared only under _GNU_SOURCE), with the CLONE_* flags below.
int clinux_unshare(int flags);
/// sched.h's CLONE_NEWNS (a private mount namespace), CLONE_FS (a private root, working directory and umask),
/// CLONE_NEWPID (children are born in a new PID namespace).
extern const int clinux_clone_newns;
extern const int clinux_clone_fs;
extern const int clinux_clone_newpid;

/// statfs(2)'s f_type of the filesystem holding `path`, in `*type`. 0, or -1.
int clinux_statfs_type(const char *path, unsigned long *type);
/// linux/magic.h's OVERLAYFS_SUPER_MAGIC.
extern const unsigned long clinux_overlayfs_super_magic;

/// llistxattr(2), lgetxattr(2), lremovexattr(2): the extended attributes of `path` itself, never of what a symbolic
/// link points to.
ssize_t clinux_llistxattr(const char *path, char *names, size_t size);
ssize_t clinux_lgetxattr(const char *path, const char *name, void *value, size_t size);
int clinux_lremovexattr(const char *path, const char *name);

/// pthread_setname_np(3) for the calling thread (declared only under _GNU_SOURCE): `name` is at most 15 bytes.
/// 0, or an error number (not -1 and errno).
int clinux_set_thread_name(const char *name);

/// Forks the first process of the PID namespace the caller entered with unshare(CLONE_NEWPID) (which applies to
/// the caller's children only). When that process ends, the kernel kills every process left in the namespace.
/// The child closes every descriptor but the read end of a pipe and waits for end-of-file on it; the caller
/// gets the write end in `*keepalive` (close-on-exec) and closes it when the namespace is to end. If the caller
/// dies first, even by SIGKILL, the kernel closes it. Only async-signal-safe calls run in the child. The
/// child's pid, or -1.
pid_t clinux_fork_namespace_init(int *keepalive);
