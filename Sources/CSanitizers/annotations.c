#include "CSanitizers.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OVERLAY_THREAD_SANITIZER 1
#endif
#endif

#ifdef OVERLAY_THREAD_SANITIZER
// The annotation interface of compiler-rt's ThreadSanitizer runtime.
void __tsan_acquire(void *address);
void __tsan_release(void *address);

void overlay_sanitizer_acquire(const void *address) { __tsan_acquire((void *)address); }
void overlay_sanitizer_release(const void *address) { __tsan_release((void *)address); }
#else
void overlay_sanitizer_acquire(const void *address) { (void)address; }
void overlay_sanitizer_release(const void *address) { (void)address; }
#endif
