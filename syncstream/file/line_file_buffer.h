// LineFileBuffer: the last `maxlen` lines written by processes on hosts that
// share only a directory on a disk (NFS, a cluster file system), read by any
// of them. Each process opens its own instance on the same directory.
//
//   LineFileBufferOptions options;
//   options.maxlen = 1000;
//   auto buffer = LineFileBuffer::Open("/shared/run42.log", options);
//   (*buffer)->stream() << "step " << i << " done\n";     // any thread
//   (*buffer)->Commit();          // or wait for the flush interval
//   auto last = (*buffer)->Read(10);                       // any host
//
// Writing side: a LineWriter (line_writer.h): Write, stream(), Flush,
// SendError, SendWarning, SendEof, NewWriter. Complete lines are queued in
// the instance; the queue is committed to disk as one segment per lock
// acquisition when it reaches `max_batch_records`/`max_batch_bytes`, every
// `flush_interval` (a background thread), on Commit(), before Read/Size/Clear
// of this instance, and at destruction (pending partial lines included).
//
// A writing call (Write, stream(), Flush, SendEof, SendError, SendWarning, a
// Writer's calls) queues its records before it commits anything, so it never
// drops a line. When it commits (durability kAlways, or a full batch) and
// the commit fails, it returns that failure -- DeadlineExceeded: the lock was
// not had within `lock_timeout`; Aborted: this holder was fenced; others
// from the disk -- with LineKept(status) true: the line is kept, queued,
// and the next Commit, the flusher or the destructor commits it. Do not
// write it again (it would be committed twice); call Commit() to retry.
//
// Disk format (a directory; see segment_format.h for the bytes):
//   seg-<GENERATION>   immutable segment files: a checksummed header (the
//                      generation, the buffer-wide index of its first record,
//                      the clear point, the record count) and one
//                      length-prefixed, CRC-checked frame per record
//                      (syncstream.proto.Record).
//   lock               the lock file (lock_file.h)
//   tmp-*              staging files of writers at work (or dead ones:
//                      removed by a later holder)
// The directory is created 0700 and every file 0600 (2770 and 0660 with
// `share_with_group`). Anything in it may have been planted: files are
// opened without following links and without blocking (O_NOFOLLOW,
// O_NONBLOCK); a FIFO, link or other non-regular file under a segment's
// name is refused (FailedPrecondition: "not a regular file"), reported as an
// unreadable segment, and skipped; one under the lock's name is replaced as
// a damaged lock is (lock_file.h).
//
// Committing a batch, holding the lock:
//  1. list the directory; the newest segment gives the next record index and
//     the clear point; a torn tail on it (file shorter than its header says:
//     a crash without fsync, a truncation) is cut back to its last valid
//     frame and its header rewritten;
//  2. claim generation G = newest + 1 and write it into the lock; if this
//     acquisition took over a stale lock, first commit an empty segment at G
//     ("burning" the generation the previous, maybe only paused, holder would
//     use) and claim G + 1; then check the lock is still ours;
//  3. write the whole segment to a private staging file (fdatasync it unless
//     durability is kNever), then publish it with link(staging, seg-G). link
//     never replaces: if seg-G exists and is not ours, this holder was fenced
//     (it was paused past its lease and someone else committed G): the batch
//     is refused with Aborted, nothing was written where readers look, and
//     the records stay queued for a fresh acquisition;
//  4. rotate: remove segments whose records all lie before the newest
//     `maxlen` (or before the clear point) and stale staging files.
// Because a segment is never modified after its commit (except a torn-tail
// repair), no cached attribute or page on a misbehaving mount can be stale
// for it, and no append from a fenced writer can land inside committed data.
// Nothing depends on fcntl/flock, link counts or cached file sizes.
//
// Reading needs no lock: list, read the newest header, then whole segments
// newest first until `n` records are found: O(n + one batch) records decoded
// (a segment holds at most max_batch_records unless commits failed), plus a
// directory listing; headers are cached (segments are immutable). A listing
// that runs while segments are linked can leave one out yet show a later one
// (readdir is no snapshot; ext4 lists in hash order): generations are dense,
// so a hole between two listed generations is looked up by name.
// Records whose checksum fails are never returned; damage is reported in
// ReadReport (and `syncstream file inspect`).
//
// Clear() commits a clear-marker segment: records before it are invisible
// to every reader, and the committer removes the older segments.
//
// All instances of one directory should use the same `maxlen`: rotation by
// the smallest keeps only that many.
#ifndef SYNCSTREAM_FILE_LINE_FILE_BUFFER_H_
#define SYNCSTREAM_FILE_LINE_FILE_BUFFER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/line_writer.h"
#include "syncstream/core/record.h"
#include "syncstream/file/lock_file.h"
#include "syncstream/file/segment_format.h"
#include "syncstream/proto/record.pb.h"

namespace syncstream::file {

enum class Durability {
  kNever,     // no fsync: a crashed host may lose its last batches
  kPerBatch,  // fdatasync each segment before committing it
  kAlways,    // every record is committed (and synced) before Write returns
};

struct LineFileBufferOptions {
  LineWriterOptions writer;
  // The N of "the last N lines". At least 1.
  size_t maxlen = 1000;
  // Host identity in the lock ("" = hostname); tests set it to simulate
  // several hosts on one machine.
  std::string host_id;
  absl::Duration lease = absl::Seconds(2);
  // How long a commit waits for the lock.
  absl::Duration lock_timeout = absl::Seconds(30);
  // Queued records are committed at the latest this long after queueing.
  absl::Duration flush_interval = absl::Milliseconds(20);
  size_t max_batch_records = 16384;
  size_t max_batch_bytes = 4 << 20;
  Durability durability = Durability::kNever;
  // Tests only: called holding the lock, after the fencing checks and right
  // before a batch is linked (to crash or pause a holder at the worst
  // moment).
  std::function<void()> before_link_for_testing;
  // Tests only: called with the names of every directory listing a
  // snapshot takes, before they are used (to drop a name the way a listing
  // that races with link(2) can).
  std::function<void(std::vector<std::string>* names)> after_listing_for_testing;
  // Who may read and write the buffer. false: the owner only (the
  // directory is created 0700, segments and the lock 0600), since lines
  // may hold anything. true: the members of the directory's group too (it
  // is created 2770: setgid, so that every file takes its group; files
  // 0660), whatever the umask. A directory that exists keeps its mode.
  bool share_with_group = false;
};

// Damage met while reading, and records a follower missed.
struct ReadReport {
  struct Entry {
    std::string segment;
    SegmentDamage damage;
  };
  // Damaged stretches of the segments read (their records are skipped).
  std::vector<Entry> damages;
  // Segments in the range read whose records are all lost: header damaged,
  // or not a regular file (a FIFO or link planted under a segment's name,
  // never opened in a way that could block): "segment 'PATH': cause".
  std::vector<std::string> unreadable_segments;
  // ReadFrom only: records at or after `from` (and after the last clear)
  // that it could not return because they were gone before it read them:
  // rotated away, or older than this instance's newest `maxlen`. Records
  // lost to damage are not counted here.
  uint64_t rotated_away = 0;
};

// A segment as `inspect` shows it.
struct SegmentInfo {
  std::string name;
  uint64_t generation = 0;
  bool header_ok = false;
  // Why the segment cannot be read (header damaged, not a regular file).
  std::string problem;
  SegmentHeader header;
  uint64_t file_size = 0;
  // With ListSegments' `check_frames`: the records that pass every check,
  // and the damaged stretches a reader skips (a file shorter than its
  // header says is a torn tail at its end).
  uint32_t valid_records = 0;
  std::vector<SegmentDamage> damages;
};

// Thread-safe: any thread may write, commit and read; one commit runs at a
// time per instance.
class LineFileBuffer : public LineWriter {
 public:
  // Opens (creating the directory if needed) the buffer at `path`.
  static absl::StatusOr<std::unique_ptr<LineFileBuffer>> Open(
      std::string path, LineFileBufferOptions options);
  // Commits what is queued (pending partial lines included, with the lock
  // timeout) and stops the flusher.
  ~LineFileBuffer() override;

  const std::string& path() const { return path_; }
  size_t maxlen() const { return options_.maxlen; }
  // Records this instance has committed to disk so far: they survive this
  // process being killed.
  uint64_t committed_records() const {
    return committed_records_.load(std::memory_order_acquire);
  }

  // Whether `status`, returned by a writing call, says the line was kept
  // (queued, to be committed later: see "A writing call" above). False for
  // OK.
  static bool LineKept(const absl::Status& status);

  // Commits every queued record of this instance. Aborted if this holder
  // was fenced (the records stay queued), DeadlineExceeded if the lock
  // could not be had within `timeout`.
  absl::Status Commit(absl::Duration timeout);
  absl::Status Commit() { return Commit(options_.lock_timeout); }

  // The last `n` (all held: up to maxlen) records committed to the
  // directory by any instance, oldest first; this instance's queue is
  // committed first. Damaged records are skipped and listed in `report`.
  absl::StatusOr<std::vector<Record>> Read(size_t n,
                                           ReadReport* report = nullptr);
  absl::StatusOr<std::vector<Record>> Read() { return Read(options_.maxlen); }
  // Committed records since the last clear, capped at maxlen.
  absl::StatusOr<size_t> Size();
  // Makes every record committed so far invisible (a clear marker).
  absl::Status Clear();

  // Records with buffer-wide index >= `from` (at most maxlen, oldest first)
  // and, in `*next`, the index to continue from: for followers (tail -f).
  // Does not commit this instance's queue.
  //
  // Read, ReadFrom, Size and Commit list the directory: NotFound when it is
  // gone, PermissionDenied when it cannot be read.
  absl::StatusOr<std::vector<Record>> ReadFrom(uint64_t from, uint64_t* next,
                                               ReadReport* report = nullptr);

  // The segments in the directory, oldest first (no lock taken), listed as
  // readers list them: a generation between two listed ones is looked up
  // by name, since the listing may have missed it (see "Reading" above);
  // one that is gone is left out. With `check_frames`, every segment is
  // read whole and its frames checked as a reader checks them (damages,
  // valid_records). NotFound when `path` does not exist.
  static absl::StatusOr<std::vector<SegmentInfo>> ListSegments(
      const std::string& path, bool check_frames = false);
  static std::string LockPath(const std::string& path);

 protected:
  absl::Status Publish(const Record& record) override;

 private:
  struct Snapshot;
  LineFileBuffer(std::string path, LineFileBufferOptions options);

  void FlushLoop();
  // Queued frames: `last_frame` is the offset of the last one in `frames`.
  struct Batch {
    std::string frames;
    uint32_t count = 0;
    size_t last_frame = 0;
  };
  absl::Status CommitBatch(const Batch& batch, uint32_t flags,
                           absl::Duration timeout);
  absl::Status CommitLocked(HeldLock& lock, const Batch& batch,
                            uint32_t flags);
  // Cuts a torn or damaged tail off the newest segment (lock held).
  void RepairTail(uint64_t generation, SegmentHeader* header);
  absl::StatusOr<Snapshot> TakeSnapshot(bool repair);
  absl::Status LinkSegment(const SegmentHeader& header,
                           const std::string& frames);
  void Rotate(const Snapshot& snapshot, uint64_t end, uint64_t clear);
  absl::StatusOr<std::vector<Record>> Collect(uint64_t from, size_t limit,
                                              bool follow, uint64_t* next,
                                              ReadReport* report);
  static void CheckFrames(const std::string& file, SegmentInfo* info);

  const std::string path_;
  const LineFileBufferOptions options_;
  const uint64_t nonce_;  // this instance, in segment headers and staging names
  LockFile lock_file_;

  std::mutex commit_mutex_;  // one commit at a time per instance
  std::atomic<uint64_t> committed_records_{0};
  // Headers are immutable once committed: cached by generation.
  std::mutex header_mutex_;
  std::map<uint64_t, SegmentHeader> header_cache_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  Batch queue_;
  absl::Time queue_since_ = absl::InfinitePast();
  proto::Record scratch_;
  bool stopping_ = false;
  absl::Status flusher_status_;  // the last background commit failure
  std::thread flusher_;
};

}  // namespace syncstream::file

#endif  // SYNCSTREAM_FILE_LINE_FILE_BUFFER_H_
