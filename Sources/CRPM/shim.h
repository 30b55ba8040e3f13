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
static inline rpmVSFlags crpm_vsflags_no_signatures(void) { return RPMVSF_MASK_NOSIGNATURES; }

/* What `rpm -K` runs on one package file (rpmVerifySignatures: rpmpkgRead + rpmvsVerify over header and payload)
   with the transaction's keyring, verify flags and verify level. Its QVA_t argument is unused but must not be NULL. */
static inline int crpm_verify_package_file(rpmts ts, FD_t fd, const char *fn) {
    struct rpmQVKArguments_s unused;
    memset(&unused, 0, sizeof unused);
    return rpmVerifySignatures(&unused, ts, fd, fn);
}

/* rpmSetVerbosity(level) as a function; returns the previous log mask for rpmlogSetMask. At INFO, rpm sends a
   scriptlet's stdout (not only its stderr) to the transaction's script fd. */
static inline int crpm_set_verbosity(int level) { return rpmlogSetMask(RPMLOG_UPTO(RPMLOG_PRI(level))); }
#endif
