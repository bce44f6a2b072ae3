// LockFile: mutual exclusion between processes on different hosts that share
// only a directory, correct even where fcntl/flock locks are not shared
// between hosts (NFS mounted `nolock`/`local_lock`, FUSE without lock
// forwarding) and attributes are cached.
//
// It relies only on operations that stay atomic on such mounts: exclusive
// creation (O_CREAT|O_EXCL fails with EEXIST on every client), rename, and
// reading a file freshly opened by path (close-to-open consistency). It never
// trusts a link count, a cached file size or an fcntl lock.
//
// The lock is the file PATH (fixed size, 512 bytes of text, see
// EncodeLockHolder), holding the holder's identity: host id, pid, boot id, a
// random nonce fresh for every acquisition, the lease, and a heartbeat (wall
// time and a counter) that a thread of the holder rewrites every lease/4.
//
// Acquire(timeout):
//  1. create PATH with O_EXCL and write the identity; reading it back by path
//     must show our nonce (so a retransmitted NFS create cannot fool us);
//  2. otherwise read the holder. The lock is stale when
//       - its heartbeat is older than its lease (wall clocks), or
//       - this waiter saw the same content unchanged for a whole lease on its
//         own monotonic clock (robust against clock skew; also covers a lock
//         file left empty by a creator killed before writing it), or
//       - the holder is on this host (the same host id as this LockFile's,
//         configured or the hostname, and the same boot id) and its pid no
//         longer exists;
//  3. a stale lock is taken over race-free: the taker first creates
//     PATH.takeover with O_EXCL (one taker at a time), re-reads PATH to check
//     it is still the same stale content, then atomically replaces it with
//     rename(PATH.new-NONCE, PATH) — there is never a moment without a lock
//     file in which a third process could slip in — and removes
//     PATH.takeover. A taker that died holding PATH.takeover is removed after
//     a lease in the same way.
//  4. otherwise wait (polling with backoff) until the deadline:
//     DeadlineExceeded names the holder.
//
// PATH and every helper file are created with O_EXCL, mode 0600 (0660 with
// `share_with_group`), and opened without following links or blocking; a
// FIFO or other non-regular file at PATH is no lock: it reads as damaged
// content and is replaced, like any damaged lock, once it has sat unchanged
// for a lease.
//
// A lock can still be lost (the holder paused past its lease, or a second-
// level race on a dead taker): HeldLock::Verify() tells, and the data written
// under the lock must carry its own fencing (see line_file_buffer.h), because
// no lock on a shared disk can stop a paused process from writing once it
// resumes.
#ifndef SYNCSTREAM_FILE_LOCK_FILE_H_
#define SYNCSTREAM_FILE_LOCK_FILE_H_

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream::file {

inline constexpr size_t kLockFileSize = 512;

// Who holds (or held) a lock.
struct LockHolder {
  std::string host;
  int64_t pid = 0;
  std::string boot_id;
  uint64_t nonce = 0;
  // The generation the holder claimed (0 until it claimed one).
  uint64_t generation = 0;
  absl::Time acquired = absl::UnixEpoch();
  absl::Time heartbeat = absl::UnixEpoch();
  uint64_t heartbeat_count = 0;
  absl::Duration lease = absl::ZeroDuration();
};

// Exactly kLockFileSize bytes: "key=value" lines, a CRC line, '\n' padding.
std::string EncodeLockHolder(const LockHolder& holder);
// Validates (header line, fields, CRC). `name` names the lock in errors.
absl::StatusOr<LockHolder> DecodeLockHolder(absl::string_view bytes,
                                            absl::string_view name);

// This machine's boot id (/proc/sys/kernel/random/boot_id), "" if unknown.
const std::string& ThisBootId();
// A random 64-bit value from the kernel (getrandom).
uint64_t RandomNonce();

struct LockFileOptions {
  // The host identity written into the lock; "" means gethostname().
  std::string host_id;
  // A holder that has not renewed for this long may be taken over.
  absl::Duration lease = absl::Seconds(2);
  // Lock files readable and writable by the owner only (0600), or with
  // this set by the group too (0660, whatever the umask).
  bool share_with_group = false;
};

// A lock as seen by an inspector at one moment.
struct LockState {
  bool present = false;
  bool readable = false;   // the content decoded (else `problem` says why)
  std::string problem;
  LockHolder holder;
  absl::Duration heartbeat_age = absl::ZeroDuration();
  bool stale = false;      // by the wall-clock or dead-local-pid rules
  std::string stale_reason;
};

class HeldLock;

// Thread-safe: acquisitions from several threads are independent (each
// competes for the file like another process would).
class LockFile {
 public:
  LockFile(std::string path, LockFileOptions options);
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& host_id() const { return host_id_; }
  absl::Duration lease() const { return options_.lease; }

  // Acquires the lock, waiting at most `timeout`.
  absl::StatusOr<std::unique_ptr<HeldLock>> Acquire(absl::Duration timeout);

  // One look at the lock at `path` (no waiting), judged by a process whose
  // host id is `host_id` ("" = the hostname; the dead-pid rule applies to
  // holders with the same host id and boot id).
  static LockState Inspect(const std::string& path,
                           absl::string_view host_id = "");
  // Removes the lock at `path` if it is stale (or unconditionally with
  // `force`). FailedPrecondition if it is live and not forced.
  static absl::Status Break(const std::string& path, bool force);

 private:
  friend class HeldLock;
  struct Observation;

  absl::StatusOr<bool> TryCreate(UniqueFd* fd, LockHolder* holder);
  absl::StatusOr<bool> TryTakeOver(const std::string& stale_content,
                                   UniqueFd* fd, LockHolder* holder);
  LockHolder NewHolder() const;
  mode_t file_mode() const;

  const std::string path_;
  const LockFileOptions options_;
  const std::string host_id_;
};

// An acquired lock (RAII, move-only through unique_ptr): renews the heartbeat
// from a thread while it lives, released on destruction. Thread-safe.
class HeldLock {
 public:
  ~HeldLock();
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;

  // A copy: the renewer thread updates the heartbeat.
  LockHolder holder() const;
  // Whether this acquisition replaced a stale holder's lock.
  bool took_over() const { return took_over_; }
  const LockHolder& previous_holder() const { return previous_; }

  // Re-reads the lock by path: OK while it still names us, Aborted if
  // another process has taken it over.
  absl::Status Verify() const;
  // Records the generation claimed under this lock (for inspectors).
  absl::Status SetGeneration(uint64_t generation);
  // Releases now (the destructor does it otherwise). Releasing a lock that
  // was taken over leaves the new holder's lock alone.
  absl::Status Release();

 private:
  friend class LockFile;
  HeldLock(const LockFile* owner, UniqueFd fd, LockHolder holder,
           bool took_over, LockHolder previous);
  void RenewLoop();
  absl::Status WriteHolderLocked();

  const LockFile* owner_;
  UniqueFd fd_;
  bool took_over_;
  LockHolder previous_;
  mutable std::mutex mutex_;  // guards holder_, fd_ writes, stop_
  std::condition_variable cv_;
  LockHolder holder_;
  bool stop_ = false;
  bool released_ = false;
  std::thread renewer_;
};

}  // namespace syncstream::file

#endif  // SYNCSTREAM_FILE_LOCK_FILE_H_
