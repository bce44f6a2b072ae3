// ThisThreadToken(): a number naming the calling thread, never reused within
// a process (unlike std::thread::id or a thread_local's address): a new
// thread never passes for an exited one. A forked child's thread keeps the
// token of the thread that forked.
#ifndef SYNCSTREAM_CORE_INTERNAL_THREAD_TOKEN_H_
#define SYNCSTREAM_CORE_INTERNAL_THREAD_TOKEN_H_

#include <atomic>
#include <cstdint>

namespace syncstream {
namespace internal {

// Never 0.
inline uint64_t ThisThreadToken() {
  static std::atomic<uint64_t> next_token{1};
  thread_local const uint64_t token =
      next_token.fetch_add(1, std::memory_order_relaxed);
  return token;
}

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_THREAD_TOKEN_H_
