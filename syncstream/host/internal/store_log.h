// StoreLog: the collector's durable log (LineHostBuffer with --store DIR).
//
// DIR/host.log is an append-only file: a 16-byte header ("SSHOSTLG", format
// version, reserved) and then entries, each
//
//   u32 length (little-endian) | u32 CRC-32 of the payload | payload
//
// where the payload is one serialized syncstream.proto.HostLogEntry of at
// most kMaxEntryBytes. An entry is appended with one write() before the
// collector acknowledges what it holds, so a killed collector (SIGKILL) loses
// nothing it acknowledged; with `sync` each append is also fdatasync'ed, for
// power loss. Opening replays every intact entry in order; a torn or corrupt
// tail (the crash's last, partial write) is cut off and reported. Rewrite()
// replaces the whole log atomically (write a new file, fsync, rename) to
// compact it. DIR/host.lock (flock) keeps a second collector out.
//
// (A format of its own until the shared-disk buffer's segment format lands;
// the two should be unified.)
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
#include "syncstream/proto/host.pb.h"

namespace syncstream::host::internal {

inline constexpr size_t kStoreLogHeaderBytes = 16;
inline constexpr size_t kStoreLogEntryHeaderBytes = 8;
inline constexpr size_t kMaxEntryBytes = 64 << 20;

// What Open() found beyond the intact entries.
struct ReplayReport {
  uint64_t entries = 0;
  uint64_t discarded_bytes = 0;  // torn or corrupt tail cut off
  std::string discarded_reason;
};

// Decodes the entry at the front of `bytes` (the part after the file header)
// into `entry`. Returns the bytes used, 0 if `bytes` holds no complete entry,
// or DataLoss for a bad length or checksum or an unparsable payload.
absl::StatusOr<size_t> DecodeStoreLogEntry(absl::string_view bytes,
                                           proto::HostLogEntry* entry);
// Appends the encoded entry to `out`.
absl::Status EncodeStoreLogEntry(const proto::HostLogEntry& entry,
                                 std::string* out);

class StoreLog {
 public:
  using Replay = std::function<absl::Status(const proto::HostLogEntry&)>;

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
  absl::Status WriteAll(int fd, absl::string_view bytes,
                        const std::string& path);

  const std::string dir_;
  const std::string path_;
  const bool sync_;
  UniqueFd lock_;
  UniqueFd log_;
  uint64_t size_;
  std::string scratch_;
};

}  // namespace syncstream::host::internal

#endif  // SYNCSTREAM_HOST_INTERNAL_STORE_LOG_H_
