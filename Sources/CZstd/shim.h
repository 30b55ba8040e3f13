#ifndef OVERLAY_CZSTD_SHIM_H
#define OVERLAY_CZSTD_SHIM_H
#include <zstd.h>
#endif
