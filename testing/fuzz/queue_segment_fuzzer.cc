// Fuzz target: the queue's attach-and-validate path and frame decoding, fed
// arbitrary segment bytes through real shared memory.
//
// The first input byte picks how the rest becomes a segment (layout version 6):
//   even: the bytes are the whole segment, as is;
//   odd:  a valid segment (2 slots, a 512-byte ring, a wrapped ring with
//         committed, reserved and padding frames) patched by (offset:2,
//         value:1) triples, so random inputs reach the frame decoder.
// The segment is written to /dev/shm and opened like any participant would
// (header, sizes, positions), then every frame between head and tail and
// every participant slot is decoded, and frames still being written are
// resolved as a stuck reader would (abandoning those of dead writers), and
// space is reclaimed as a writer short of space would (head jumps over what
// the writers' announced claims say is finished, then walks, and space_end
// moves on). No crash, no hang, head never moves back nor past the tail,
// space_end never moves back nor outside [tail, head + capacity], and the
// space it adds is zeroed, whatever the bytes.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/queue/internal/segment.h"
#include "syncstream/queue/sync_queue.h"

namespace {

using syncstream::SyncQueue;
using syncstream::UniqueFd;
namespace qi = syncstream::queue_internal;

std::string ReadShm(const std::string& name) {
  std::string out;
  UniqueFd fd(::open(("/dev/shm/" + std::string(qi::kShmPrefix) + name).c_str(), O_RDONLY));
  if (!fd) return out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buffer, sizeof(buffer))) > 0) out.append(buffer, n);
  return out;
}

// A real segment whose ring has wrapped, a reader's cursor mid-ring, and
// frames of two writers that alternate (so claims padded to a cache line).
std::string TemplateBytes() {
  static const std::string bytes = [] {
    const std::string name = absl::StrCat("fuzz-template-", ::getpid());
    SyncQueue::Remove(name).IgnoreError();
    auto q = SyncQueue::Create(name, 512, syncstream::QueueOptions{.max_participants = 3});
    if (!q.ok()) return std::string();
    auto w = q->Attach("w", syncstream::QueueRole::kWriter);
    auto v = q->Attach("v", syncstream::QueueRole::kWriter);
    auto r = q->Attach("reader", syncstream::QueueRole::kReader);
    if (!w.ok() || !v.ok() || !r.ok()) return std::string();
    for (int i = 0; i < 12; ++i) {
      (i % 2 == 0 ? w : v)->Append("type", std::string(20 + i * 3, 'a' + i)).IgnoreError();
      if (i < 9) r->Pop().IgnoreError();
    }
    std::string copy = ReadShm(name);
    w->Close(syncstream::CloseOptions{.keep = true}).IgnoreError();
    v->Close(syncstream::CloseOptions{.keep = true}).IgnoreError();
    r->Close(syncstream::CloseOptions{.keep = true}).IgnoreError();
    SyncQueue::Remove(name).IgnoreError();
    return copy;
  }();
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string segment;
  if (data[0] % 2 == 0) {
    segment.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    segment = TemplateBytes();
    if (segment.empty()) return 0;
    for (size_t i = 1; i + 3 <= size; i += 3) {
      size_t offset = (data[i] | (data[i + 1] << 8)) % segment.size();
      segment[offset] = static_cast<char>(data[i + 2]);
    }
  }
  static const std::string name = absl::StrCat("fuzz-", ::getpid());
  const std::string shm = std::string("/") + qi::kShmPrefix + name;
  {
    UniqueFd fd(::shm_open(shm.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600));
    if (!fd) return 0;
    size_t done = 0;
    while (done < segment.size()) {
      ssize_t n = ::write(fd.get(), segment.data() + done, segment.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
  }
  auto opened = qi::Segment::Open(name, absl::ZeroDuration());
  // The mapping outlives the name: gone at once, nothing is left in /dev/shm
  // when the run ends in the middle of an input (-max_total_time, a crash).
  ::shm_unlink(shm.c_str());
  if (opened.ok()) {
    qi::Segment& seg = **opened;
    // What inspect shows: every frame and participant, decoded.
    auto snapshot = qi::Snapshot(seg);
    (void)snapshot;
    // What each reader does from its own cursor.
    const uint64_t tail = seg.header()->tail.load();
    for (uint32_t i = 0; i < seg.max_participants(); ++i) {
      uint64_t pos = seg.slot(i)->cursor.load();
      for (int steps = 0; pos < tail && steps < 10000; ++steps) {
        // The readers' inline decoder must accept exactly the committed
        // frames the full decoder accepts, with the same view.
        syncstream::QueueMessageView fast;
        uint32_t fast_length = 0;
        const bool fast_ok = seg.DecodeCommitted(pos, tail, &fast, &fast_length);
        if (fast_ok) {
          size_t sum = 0;
          for (char c : fast.body) sum += static_cast<unsigned char>(c);
          volatile size_t sink = sum + fast.sender.size() + fast.type.size();
          (void)sink;
        }
        qi::FrameView f;
        if (!seg.DecodeFrame(pos, tail, &f).ok()) {
          if (fast_ok) __builtin_trap();
          break;
        }
        if (f.state == qi::kFrameCommitted) {
          syncstream::QueueMessageView full;
          const bool full_ok = seg.DecodePayload(f, &full).ok();
          if (full_ok != fast_ok ||
              (fast_ok && (fast_length != f.length || fast.body.data() != full.body.data() ||
                           fast.body.size() != full.body.size() ||
                           fast.sender.size() != full.sender.size() ||
                           fast.type.size() != full.type.size()))) {
            __builtin_trap();
          }
        } else if (fast_ok) {
          __builtin_trap();
        }
        if (f.state == qi::kFrameUnwritten || f.state == qi::kFrameReserved) {
          // What a reader stuck there does: abandon it if its writer is gone
          // (the hole scan for a claim without a header), then look again.
          auto abandoned = seg.AbandonIfWriterDead(pos, tail);
          if (!abandoned.ok() || !*abandoned) break;
          if (!seg.DecodeFrame(pos, tail, &f).ok() || f.state == qi::kFrameUnwritten) break;
        }
        if (f.header != nullptr) {
          syncstream::QueueMessageView view;
          if (seg.DecodePayload(f, &view).ok()) {
            volatile size_t sink = view.sender.size() + view.type.size() + view.body.size();
            (void)sink;
          }
        }
        pos += f.length;
      }
    }
    // What a writer short of space does (under the queue lock, which the
    // fuzzer, alone with the segment, does not take: its bytes are arbitrary).
    const uint64_t head_before = seg.header()->head.load();
    const uint64_t space_before = seg.header()->space_end.load();
    auto fits = seg.ReclaimLocked(tail + seg.capacity(), /*probe=*/false);
    const uint64_t head_after = seg.header()->head.load();
    const uint64_t space_after = seg.header()->space_end.load();
    if (fits.ok() && (head_after < head_before || head_after > tail ||
                      space_after < space_before || space_after < tail ||
                      space_after - head_after > seg.capacity())) {
      __builtin_trap();
    }
    // The space it added is handed to writers zeroed (layout.h).
    for (uint64_t pos = space_before; fits.ok() && pos < space_after; ++pos) {
      if (seg.ring()[pos & (seg.capacity() - 1)] != 0) __builtin_trap();
    }
  }
  return 0;
}
