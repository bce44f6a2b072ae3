#include "syncstream/core/line_assembler.h"

#include <algorithm>

namespace syncstream {

// FindNewline (line_assembler.h) searches writes of 16 to 512 bytes inline
// with SSE2 instead of calling memchr: most writes are a line or two, and for
// those a call into the C library's memchr cost as much as its search.

LineAssembler::LineAssembler(size_t max_line_length)
    : max_line_length_(std::max<size_t>(max_line_length, 4)) {}

size_t LineAssembler::CutPoint() const {
  const size_t cut = max_line_length_;
  // pending_[cut] is the first byte past the limit. If it continues a UTF-8
  // character (10xxxxxx), walk back (at most 3 bytes) to that character's
  // lead byte (11xxxxxx) and cut before it.
  size_t lead = cut;
  while (lead > 0 && cut - lead < 3 &&
         (static_cast<unsigned char>(pending_[lead]) & 0xC0) == 0x80) {
    --lead;
  }
  if (lead > 0 && lead < cut &&
      (static_cast<unsigned char>(pending_[lead]) & 0xC0) == 0xC0) {
    return lead;
  }
  return cut;
}

}  // namespace syncstream
