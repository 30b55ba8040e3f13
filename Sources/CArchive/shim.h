#ifndef OVERLAY_CARCHIVE_SHIM_H
#define OVERLAY_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
#endif
