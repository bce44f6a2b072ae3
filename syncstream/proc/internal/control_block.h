// The control block of a LineProcBuffer: a small shared-memory object beside
// its queue (/dev/shm/syncstream-proc.QUEUE) holding the settings every
// mirror follows (so an exec'd child needs only the token) and the stop word
// of StopAllMirrors/ForceStop. It carries no messages: those travel in the
// queue.
//
// A mirror maps it read-write (the stop word is an atomic), validates size,
// magic, version and the settings' ranges once, and copies the settings;
// afterwards only the stop word is read.
#ifndef SYNCSTREAM_PROC_INTERNAL_CONTROL_BLOCK_H_
#define SYNCSTREAM_PROC_INTERNAL_CONTROL_BLOCK_H_

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace syncstream::proc_internal {

// What a mirror needs to know to batch and send.
struct MirrorSettings {
  size_t batch_bytes = 64 * 1024;     // send a batch once it is this big
  uint32_t batch_records = 4096;      // ... or holds this many records
  absl::Duration flush_interval = absl::Milliseconds(2);  // ... or is this old
  absl::Duration send_timeout = absl::Seconds(30);  // wait for queue space
  size_t max_line_length = 64 * 1024;
};

// Ranges accepted from the segment (and from LineProcBufferOptions).
absl::Status ValidateMirrorSettings(const MirrorSettings& settings,
                                    size_t max_body_bytes);

class ControlBlock {
 public:
  // Creates the block for queue `queue_name` (exclusive, mode 0600).
  static absl::StatusOr<ControlBlock> Create(absl::string_view queue_name,
                                             const MirrorSettings& settings,
                                             size_t max_body_bytes);
  // Maps and validates an existing block. PermissionDenied for a block of
  // another user or writable by group or others (never a buffer's).
  static absl::StatusOr<ControlBlock> Open(absl::string_view queue_name,
                                           size_t max_body_bytes);
  // The shared-memory name of the block of `queue_name`.
  static std::string SegmentName(absl::string_view queue_name);
  // Unlinks the block of `queue_name`; NotFound when there is none.
  static absl::Status Remove(absl::string_view queue_name);
  // The queue names of the blocks in /dev/shm, sorted.
  static absl::StatusOr<std::vector<std::string>> List();

  ControlBlock(ControlBlock&& other) noexcept;
  ControlBlock& operator=(ControlBlock&& other) noexcept;
  ControlBlock(const ControlBlock&) = delete;
  ControlBlock& operator=(const ControlBlock&) = delete;
  // Unmaps; the creator also unlinks the name.
  ~ControlBlock();

  const MirrorSettings& settings() const { return settings_; }

  // Mirrors of a generation below this are stopped.
  uint32_t stopped_through() const;
  // The shared word stopped_through() reads, for a load on every write
  // without a call; valid as long as this block is mapped.
  const std::atomic<uint32_t>& stopped_through_word() const;
  // Stops every mirror of generation <= `generation`.
  void StopThrough(uint32_t generation);

 private:
  struct Layout;
  ControlBlock(Layout* layout, MirrorSettings settings, std::string unlink);
  void Release();

  Layout* layout_ = nullptr;
  MirrorSettings settings_;
  std::string unlink_name_;  // non-empty for the creator
  pid_t creator_ = 0;
};

}  // namespace syncstream::proc_internal

#endif  // SYNCSTREAM_PROC_INTERNAL_CONTROL_BLOCK_H_
