// StoreLog: the collector's durable log (LineHostBuffer with --store DIR).
//
// DIR/host.log is an append-only file: a 16-byte header ("SSHOSTLG", u32
// format version 3, 4 reserved bytes; version 2 is still read) and then
// frames of the shared-disk
// buffer's segment format (syncstream/file/segment_format.h: magic, CRC-32,
// length, payload; at most file::kMaxFramePayload bytes), each holding one
// serialized syncstream.proto.HostLogEntry. An entry is appended with one
// write() before the collector acknowledges what it holds, so a killed
// collector (SIGKILL) loses nothing it acknowledged; with `sync` each append
// is also fdatasync'ed, for power loss. Opening replays every intact entry in
// order with the segment format's walk: a torn or corrupt tail (the crash's
// last, partial write) is cut off; a damaged entry in the middle (disk
// damage: valid entries follow) is skipped; both are reported. Rewrite()
// replaces the whole log atomically (write a new file, fsync, rename) to
// compact it. DIR/host.lock (flock) keeps a second collector out.
#ifndef SYNCSTREAM_HOST_INTERNAL_STORE_LOG_H_
#define SYNCSTREAM_HOST_INTERNAL_STORE_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/file/segment_format.h"
#include "syncstream/proto/host.pb.h"

namespace syncstream::host::internal {

inline constexpr size_t kStoreLogHeaderBytes = 16;
// Largest entry: one frame of the segment format.
inline constexpr size_t kMaxEntryBytes = file::kMaxFramePayload;

// What the replay found beyond the intact entries.
struct ReplayReport {
  uint64_t entries = 0;
  uint64_t discarded_bytes = 0;  // damaged bytes skipped or cut off
  std::string discarded_reason;  // the first damage's cause
  bool damaged_middle = false;   // valid entries followed a damage
  uint64_t torn_tail_bytes = 0;  // of discarded_bytes, cut off at the end
};

using ReplayFunction = std::function<absl::Status(const proto::HostLogEntry&)>;

// Replays the log file contents `bytes` (untrusted: what the disk holds)
// through `replay`, entry by entry. Returns the offset where the intact log
// ends (a torn tail starts there). DataLoss if the header is not a host
// store's (`path` names the file in errors); a `replay` error stops the
// replay and is returned with the entry's number. A frame that passes its
// checksum but does not parse as a HostLogEntry counts as damage.
absl::StatusOr<uint64_t> ReplayStoreLog(absl::string_view bytes,
                                        const std::string& path,
                                        const ReplayFunction& replay,
                                        ReplayReport* report);
// The 16-byte header a host store log starts with.
std::string StoreLogHeader();

class StoreLog {
 public:
  using Replay = ReplayFunction;

  // Creates DIR if needed, locks it, replays the log through `replay`.
  static absl::StatusOr<std::unique_ptr<StoreLog>> Open(
      const std::string& dir, bool sync, const Replay& replay,
      ReplayReport* report);

  ~StoreLog() = default;
  StoreLog(const StoreLog&) = delete;
  StoreLog& operator=(const StoreLog&) = delete;

  absl::Status Append(const proto::HostLogEntry& entry);
  // Replaces the log with the entries `produce` emits.
  absl::Status Rewrite(
      const std::function<absl::Status(const Replay& emit)>& produce);

  // Bytes in the log file.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  StoreLog(std::string dir, bool sync, UniqueFd lock, UniqueFd log,
           uint64_t size);

  const std::string dir_;
  const std::string path_;
  const bool sync_;
  UniqueFd lock_;
  UniqueFd log_;
  uint64_t size_;
  std::string scratch_;  // one encoded entry
};

}  // namespace syncstream::host::internal

#endif  // SYNCSTREAM_HOST_INTERNAL_STORE_LOG_H_
