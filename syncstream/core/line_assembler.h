// LineAssembler: turns one writer's arbitrary writes into complete lines.
//
// Rules (the same for every sharing kind):
//  - '\n' ends a line; the break is not part of the line.
//  - "\r\n" counts as one break: a '\r' immediately before '\n' is dropped,
//    even when the two arrive in different writes.
//  - Every other byte, including a lone '\r', '\t', '\0' and escape sequences,
//    is kept as written. syncstream carries bytes, not a terminal.
//  - A pending partial line longer than `max_line_length` bytes is cut: its
//    first part is emitted as a line marked `continued` and the rest stays
//    pending, so a writer that never writes '\n' holds at most
//    `max_line_length` bytes. The cut backs off (by at most 3 bytes) so that a
//    UTF-8 character is not split.
//  - Flush() emits the pending partial line, if any, as a final line. Buffers
//    call it at end-of-stream and when a writer closes: nothing is lost.
//
// Not thread-safe: one assembler belongs to one writer.
#ifndef SYNCSTREAM_CORE_LINE_ASSEMBLER_H_
#define SYNCSTREAM_CORE_LINE_ASSEMBLER_H_

#include <cstddef>
#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/string_view.h"

namespace syncstream {

// The default cap on one line: 64 KiB.
inline constexpr size_t kDefaultMaxLineLength = 64 * 1024;

namespace line_assembler_internal {

// The first '\n' in [data, data + size), or nullptr. Inline with SSE2 for
// texts of 16 to 512 bytes, memchr otherwise.
inline const char* FindNewline(const char* data, size_t size) {
#if defined(__SSE2__)
  if (size >= 16 && size <= 512) {
    const __m128i newline = _mm_set1_epi8('\n');
    size_t i = 0;
    // 32 bytes a round (one branch for two compares), then 16.
    for (; i + 32 <= size; i += 32) {
      const __m128i first =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
      const __m128i second =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 16));
      const unsigned mask =
          static_cast<unsigned>(
              _mm_movemask_epi8(_mm_cmpeq_epi8(first, newline))) |
          (static_cast<unsigned>(
               _mm_movemask_epi8(_mm_cmpeq_epi8(second, newline)))
           << 16);
      if (mask != 0) return data + i + __builtin_ctz(mask);
    }
    for (; i + 16 <= size; i += 16) {
      const __m128i chunk =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
      const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(chunk, newline));
      if (mask != 0) return data + i + __builtin_ctz(mask);
    }
    if (i < size) {
      // The last 16 bytes, overlapping bytes already searched (which hold
      // no '\n'): the first match is the first '\n' at or after i.
      const __m128i chunk =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + size - 16));
      const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(chunk, newline));
      if (mask != 0) return data + size - 16 + __builtin_ctz(mask);
    }
    return nullptr;
  }
#endif
  return static_cast<const char*>(std::memchr(data, '\n', size));
}

}  // namespace line_assembler_internal

class LineAssembler {
 public:
  // `max_line_length` must be at least 4 (room for one UTF-8 character);
  // smaller values are raised to 4.
  explicit LineAssembler(size_t max_line_length = kDefaultMaxLineLength);

  // Appends `text`. For every line it completes, calls
  // `emit(absl::string_view line, bool continued)`; the view is valid only
  // during the call.
  template <typename Emit>
  void Append(absl::string_view text, Emit&& emit);

  // Emits the pending partial line (if non-empty) as a final line.
  template <typename Emit>
  void Flush(Emit&& emit);

  // The pending partial line (not yet ended by '\n').
  absl::string_view pending() const { return pending_; }
  bool has_pending() const { return !pending_.empty(); }
  size_t max_line_length() const { return max_line_length_; }

  // Drops the pending partial line.
  void Clear() { pending_.clear(); }

 private:
  // Where to cut `pending_` (longer than the maximum) so that no UTF-8
  // character is split.
  size_t CutPoint() const;
  // Emits the first CutPoint() bytes of `pending_` as a continued line.
  template <typename Emit>
  void EmitCut(Emit& emit);

  size_t max_line_length_;
  std::string pending_;
};

template <typename Emit>
void LineAssembler::Append(absl::string_view text, Emit&& emit) {
  while (!text.empty()) {
    // Not absl::string_view::find: it is not inlined in the system Abseil.
    const char* found =
        line_assembler_internal::FindNewline(text.data(), text.size());
    if (found == nullptr) {
      pending_.append(text.data(), text.size());
      // A trailing '\r' may be half of a "\r\n" split across writes: keep
      // it pending without counting it against the limit.
      while (pending_.size() >
             max_line_length_ + (pending_.back() == '\r' ? 1 : 0)) {
        EmitCut(emit);
      }
      return;
    }
    size_t newline = static_cast<size_t>(found - text.data());
    absl::string_view line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    if (pending_.empty()) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() <= max_line_length_) {  // the common case: no copy
        emit(line, false);
        continue;
      }
      pending_.assign(line.data(), line.size());
    } else {
      pending_.append(line.data(), line.size());
      if (pending_.back() == '\r') pending_.pop_back();
    }
    while (pending_.size() > max_line_length_) EmitCut(emit);
    emit(absl::string_view(pending_), false);
    pending_.clear();
  }
}

template <typename Emit>
void LineAssembler::EmitCut(Emit& emit) {
  size_t cut = CutPoint();
  emit(absl::string_view(pending_.data(), cut), true);
  pending_.erase(0, cut);
}

template <typename Emit>
void LineAssembler::Flush(Emit&& emit) {
  if (pending_.empty()) return;
  emit(absl::string_view(pending_), false);
  pending_.clear();
}

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_LINE_ASSEMBLER_H_
