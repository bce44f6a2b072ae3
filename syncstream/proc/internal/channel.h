// The shared parts of one LineProcBuffer that its mirrors use: the queue
// mapping (mirrors attach to it as writers) and the control block. Shared by
// the buffer and the mirrors made in its process; an exec'd child opens its
// own from the token.
#ifndef SYNCSTREAM_PROC_INTERNAL_CHANNEL_H_
#define SYNCSTREAM_PROC_INTERNAL_CHANNEL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/proc/internal/control_block.h"
#include "syncstream/queue/sync_queue.h"

namespace syncstream::proc_internal {

struct Channel {
  SyncQueue queue;
  ControlBlock control;
};

// What a mirror token names: "sspm1:QUEUE:GENERATION:ID:NAME".
struct MirrorToken {
  std::string queue_name;
  uint32_t generation = 0;
  uint32_t mirror_id = 0;
  std::string mirror_name;
};

std::string FormatMirrorToken(const MirrorToken& token);
absl::StatusOr<MirrorToken> ParseMirrorToken(absl::string_view text);

}  // namespace syncstream::proc_internal

#endif  // SYNCSTREAM_PROC_INTERNAL_CHANNEL_H_
