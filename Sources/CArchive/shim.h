#ifndef OVERLAY_CARCHIVE_SHIM_H
#define OVERLAY_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>

/* Gives the calling thread its own working directory (unshare(2) with CLONE_FS), so bundle extraction can
 * chdir into its private directory and hand libarchive relative paths without moving the process's cwd.
 * unshare is only declared under _GNU_SOURCE, hence the local declaration. */
static inline int carchive_unshare_fs(void) {
    extern int unshare(int);
    return unshare(0x00000200 /* CLONE_FS */);
}
#endif
