#ifndef OVERLAY_CRPM_SHIM_H
#define OVERLAY_CRPM_SHIM_H
#include <rpm/rpmlib.h>
#include <rpm/rpmts.h>
#include <rpm/rpmte.h>
#include <rpm/rpmps.h>
#include <rpm/rpmprob.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmio.h>
#include <rpm/rpmfi.h>
#include <rpm/rpmfiles.h>
#include <rpm/rpmcallback.h>
#include <rpm/rpmkeyring.h>
#include <rpm/rpmpgp.h>
#include <rpm/rpmcrypto.h>
#include <rpm/header.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmds.h>
#include <rpm/rpmcli.h>
#include <string.h>

/* Macros Swift cannot import. */
/* Verify flags that skip signature checks but keep header and payload digests (RPMVSF_MASK_NOSIGNATURES). */
static inline rpmVSFlags overlay_rpm_vsflags_no_signatures(void) { return RPMVSF_MASK_NOSIGNATURES; }

/* What `rpm -K` runs on one package file (rpmVerifySignatures: rpmpkgRead + rpmvsVerify over header and payload)
   with the transaction's keyring, verify flags and verify level. Its QVA_t argument is unused but must not be NULL. */
static inline int overlay_rpm_verify_package_file(rpmts ts, FD_t fd, const char *fn) {
    struct rpmQVKArguments_s unused;
    memset(&unused, 0, sizeof unused);
    return rpmVerifySignatures(&unused, ts, fd, fn);
}

/* rpmSetVerbosity(level) as a function; returns the previous log mask for rpmlogSetMask. At INFO, rpm sends a
   scriptlet's stdout (not only its stderr) to the transaction's script fd. */
static inline int overlay_rpm_set_verbosity(int level) { return rpmlogSetMask(RPMLOG_UPTO(RPMLOG_PRI(level))); }

/* rpm chroots the calling process for a whole transaction; installs run on a thread that first gives itself
   a private mount namespace and private root/cwd, so the chroot and the overlay mount touch nothing else.
   unshare(2) is declared here because <sched.h> hides it without _GNU_SOURCE. */
extern int unshare(int flags);
/* The delta root is made from an overlayfs upper layer: its xattrs (opaque dirs) and the work directory's
   filesystem type are read with these. */
#include <sys/xattr.h>
#include <sys/vfs.h>
static inline unsigned long overlay_rpm_statfs_type(const char *path, int *error) {
    struct statfs info;
    if (statfs(path, &info) != 0) { *error = 1; return 0; }
    *error = 0;
    return (unsigned long)info.f_type;
}
static inline int overlay_rpm_unshare_mounts_and_root(void) { return unshare(0x00020000 /* CLONE_NEWNS */ | 0x00000200 /* CLONE_FS */); }

/* The scriptlets rpm forks are born in a PID namespace of their own, so that none can outlive the build: when
   the namespace's first process ends, the kernel kills every process left in it. After unshare(CLONE_NEWPID)
   (which applies to children only), overlay_rpm_fork_namespace_init forks that first process: it closes every
   descriptor but the read end of a pipe and waits for end-of-file on it. The calling thread keeps the write end
   (*keepalive, close-on-exec) and closes it when the install is over; if the build dies first, even by SIGKILL,
   the kernel closes it. Only async-signal-safe calls run in the child. Returns the child's pid, or -1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
static inline int overlay_rpm_unshare_pids(void) { return unshare(0x20000000 /* CLONE_NEWPID */); }
static inline int overlay_rpm_fork_namespace_init(int *keepalive) {
    int ends[2];
    if (pipe(ends) != 0) return -1;
    fcntl(ends[0], F_SETFD, FD_CLOEXEC);
    fcntl(ends[1], F_SETFD, FD_CLOEXEC);
    pid_t child = fork();
    if (child < 0) {
        close(ends[0]);
        close(ends[1]);
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
#endif
