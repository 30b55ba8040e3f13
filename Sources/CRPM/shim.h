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

/* rpmSetVerbosity is a macro. */
static inline void crpm_set_verbosity(int level) { rpmSetVerbosity(level); }
#endif
