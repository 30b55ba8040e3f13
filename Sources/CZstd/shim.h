#ifndef OVERLAY_CZSTD_SHIM_H
#define OVERLAY_CZSTD_SHIM_H
/* For ZSTD_getFrameProgression, which libzstd.so exports but declares only for static linking. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

/* Input bytes a compression context has actually compressed in the current frame, counting what its worker
   threads have done so far (input it has only buffered is not counted). */
static inline unsigned long long czstd_consumed(const ZSTD_CCtx *cctx) {
    return ZSTD_getFrameProgression(cctx).consumed;
}
#endif
