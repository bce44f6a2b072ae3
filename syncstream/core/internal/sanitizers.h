// Which sanitizer a translation unit is built with, for the few places that
// must act differently under one: SYNCSTREAM_TSAN and SYNCSTREAM_ASAN are 1
// or 0. GCC says so with __SANITIZE_THREAD__ and __SANITIZE_ADDRESS__,
// clang with __has_feature.
#ifndef SYNCSTREAM_CORE_INTERNAL_SANITIZERS_H_
#define SYNCSTREAM_CORE_INTERNAL_SANITIZERS_H_

#if defined(__SANITIZE_THREAD__)
#define SYNCSTREAM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SYNCSTREAM_TSAN 1
#endif
#endif
#ifndef SYNCSTREAM_TSAN
#define SYNCSTREAM_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SYNCSTREAM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SYNCSTREAM_ASAN 1
#endif
#endif
#ifndef SYNCSTREAM_ASAN
#define SYNCSTREAM_ASAN 0
#endif

#endif  // SYNCSTREAM_CORE_INTERNAL_SANITIZERS_H_
