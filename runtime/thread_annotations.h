// Clang thread-safety annotations. They expand to nothing on compilers that
// lack them (g++), and are checked by clang with -Wthread-safety.
#pragma once

#if defined(__clang__)
#define TRELLIS_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define TRELLIS_THREAD_ANNOTATION_(x)
#endif

#define TRELLIS_CAPABILITY(x) TRELLIS_THREAD_ANNOTATION_(capability(x))
#define TRELLIS_SCOPED_CAPABILITY TRELLIS_THREAD_ANNOTATION_(scoped_lockable)
#define TRELLIS_GUARDED_BY(x) TRELLIS_THREAD_ANNOTATION_(guarded_by(x))
#define TRELLIS_PT_GUARDED_BY(x) TRELLIS_THREAD_ANNOTATION_(pt_guarded_by(x))
#define TRELLIS_REQUIRES(...) TRELLIS_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define TRELLIS_EXCLUDES(...) TRELLIS_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define TRELLIS_ACQUIRE(...) TRELLIS_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define TRELLIS_RELEASE(...) TRELLIS_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define TRELLIS_NO_THREAD_SAFETY_ANALYSIS TRELLIS_THREAD_ANNOTATION_(no_thread_safety_analysis)
