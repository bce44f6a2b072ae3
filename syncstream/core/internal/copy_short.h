// CopyShort: memcpy for the few bytes of a name, a type or a line, inline:
// fixed-size (possibly overlapping) moves up to 64 bytes, the library call
// beyond. A call to memcpy costs more than the copy for the short fields
// of every record (the proc buffer's batches, the queue's frames). Not a
// public API.
#ifndef SYNCSTREAM_CORE_INTERNAL_COPY_SHORT_H_
#define SYNCSTREAM_CORE_INTERNAL_COPY_SHORT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace syncstream {
namespace internal {

// Copies n bytes from `from` to `to` (which do not overlap).
inline void CopyShort(char* to, const char* from, size_t n) {
  if (n >= 16) {
    if (n > 64) {
      std::memcpy(to, from, n);
      return;
    }
    // 16..64 bytes: 16-byte moves from the front and the back.
    char chunk[16];
    std::memcpy(chunk, from + n - 16, 16);
    for (size_t i = 0; i + 16 < n; i += 16) std::memcpy(to + i, from + i, 16);
    std::memcpy(to + n - 16, chunk, 16);
    return;
  }
  if (n >= 8) {
    uint64_t a, b;
    std::memcpy(&a, from, 8);
    std::memcpy(&b, from + n - 8, 8);
    std::memcpy(to, &a, 8);
    std::memcpy(to + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, from, 4);
    std::memcpy(&b, from + n - 4, 4);
    std::memcpy(to, &a, 4);
    std::memcpy(to + n - 4, &b, 4);
  } else {
    for (size_t i = 0; i < n; ++i) to[i] = from[i];
  }
}

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_COPY_SHORT_H_
