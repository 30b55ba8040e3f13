// What a lock tells ThreadSanitizer about itself. Calls to the sanitizer runtime in a build with
// -fsanitize=thread (swift build --sanitize thread), nothing otherwise.
#pragma once

/// The calling thread now holds the lock at `address`: what the last holder did before releasing it happened
/// before what this thread does next.
void overlay_sanitizer_acquire(const void *address);
/// The calling thread is about to release the lock at `address`.
void overlay_sanitizer_release(const void *address);
