#include "syncstream/file/line_file_buffer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/core/deadline.h"
#include "syncstream/file/internal/shared_file.h"

namespace syncstream::file {

// Why immutable segments rather than one shared file that writers append to:
// appending needs the file's true end, and on a mount that caches attributes
// fstat right after open still reports the size cached from before another
// host's append (plain bindfs does: the tests' misbehaving fixture), so an
// appender would overwrite; and a paused writer's late append could land
// inside the next holder's data. A new file per commit, published with a
// link() that never replaces, has neither problem.
namespace {

using internal::ErrnoText;

constexpr absl::string_view kLineKeptPayload =
    "type.googleapis.com/syncstream.file.LineKept";

// The segment generations in a buffer's directory, sorted, and the names a
// writer or a lock left behind (tmp-*, lock.released-*, lock.new-*).
struct SegmentListing {
  std::vector<uint64_t> generations;
  std::vector<std::string> leftovers;
};

// readdir is not a snapshot: a name linked while the listing runs may be
// left out while a later one is returned (ext4 lists in hash order), so a
// listing can show seg-G+1 without seg-G, and a reader would step over G's
// records. Generations are committed densely (each is newest + 1) and
// rotation only removes the oldest, so a hole between two listed
// generations is a segment the listing missed (or one rotated away
// meanwhile): each is listed too, and its reader finds the ones really gone
// NotFound. Newest holes first, and a bounded number of names (a hole of
// thousands is a damaged or hand-edited directory, not a race).
absl::StatusOr<SegmentListing> ListSegmentDirectory(
    const std::string& path,
    const std::function<void(std::vector<std::string>*)>& after_listing) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    const int err = errno;
    const std::string message =
        absl::StrCat("file buffer '", path, "': opendir: ", ErrnoText(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::InternalError(message);
  }
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(dir)) names.emplace_back(entry->d_name);
  ::closedir(dir);
  if (after_listing) after_listing(&names);
  SegmentListing listing;
  for (const std::string& name : names) {
    uint64_t generation;
    if (ParseSegmentName(name, &generation)) {
      listing.generations.push_back(generation);
    } else if (absl::StartsWith(name, "tmp-") ||
               absl::StartsWith(name, "lock.released-") ||
               absl::StartsWith(name, "lock.new-")) {
      listing.leftovers.push_back(name);
    }
  }
  std::vector<uint64_t>& listed = listing.generations;
  std::sort(listed.begin(), listed.end());
  constexpr uint64_t kMaxHoleLookups = 4096;
  std::vector<uint64_t> missed;
  for (size_t i = listed.size(); i > 1 && missed.size() < kMaxHoleLookups; --i) {
    for (uint64_t g = listed[i - 1] - 1;
         g > listed[i - 2] && missed.size() < kMaxHoleLookups; --g) {
      missed.push_back(g);
    }
  }
  if (!missed.empty()) {
    listed.insert(listed.end(), missed.begin(), missed.end());
    std::sort(listed.begin(), listed.end());
  }
  return listing;
}

std::string JoinPath(const std::string& dir, absl::string_view name) {
  return absl::StrCat(dir, "/", name);
}

// Reads the whole segment at `path`. NotFound if it vanished (rotated
// away), FailedPrecondition if it is not a regular file.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  return internal::ReadRegularFile(path, std::numeric_limits<size_t>::max(),
                                   "segment");
}

absl::StatusOr<SegmentHeader> ReadHeader(const std::string& path,
                                         absl::string_view name,
                                         uint64_t* file_size) {
  SYNCSTREAM_ASSIGN_OR_RETURN(
      UniqueFd fd, internal::OpenRegularFile(path, O_RDONLY, "segment"));
  char buf[kSegmentHeaderSize];
  ssize_t n;
  do {
    n = ::pread(fd.get(), buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return absl::InternalError(
        absl::StrCat("segment '", path, "': read: ", ErrnoText(errno)));
  }
  if (file_size != nullptr) {
    struct stat st;
    *file_size = ::fstat(fd.get(), &st) == 0 ? st.st_size : 0;
  }
  return DecodeSegmentHeader(absl::string_view(buf, n), name);
}

absl::Status SyncDirectory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) {
    return absl::InternalError(absl::StrCat(
        "file buffer '", path, "': fsync directory: ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

struct LineFileBuffer::Snapshot {
  struct Entry {
    uint64_t generation;
    bool header_ok;
    SegmentHeader header;
    std::string problem;  // why the header is unusable (!header_ok)
  };
  std::vector<Entry> segments;  // ascending generation
  std::vector<std::string> leftovers;  // tmp-*, lock.released-*, lock.new-*
  uint64_t max_generation = 0;
  int newest_valid = -1;  // index into `segments`
  uint64_t end_index() const {
    return newest_valid >= 0 ? segments[newest_valid].header.end_index() : 0;
  }
  uint64_t clear_index() const {
    return newest_valid >= 0 ? segments[newest_valid].header.clear_index : 0;
  }
};

std::string LineFileBuffer::LockPath(const std::string& path) {
  return JoinPath(path, "lock");
}

LineFileBuffer::LineFileBuffer(std::string path, LineFileBufferOptions options)
    : LineWriter(options.writer),
      path_(std::move(path)),
      options_(std::move(options)),
      nonce_(RandomNonce()),
      lock_file_(LockPath(path_),
                 LockFileOptions{options_.host_id, options_.lease,
                                 options_.share_with_group}) {}

absl::StatusOr<std::unique_ptr<LineFileBuffer>> LineFileBuffer::Open(
    std::string path, LineFileBufferOptions options) {
  if (options.maxlen < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("file buffer '", path, "': maxlen must be at least 1"));
  }
  if (options.lease <= absl::ZeroDuration() || options.max_batch_records < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "file buffer '", path, "': lease and max_batch_records must be positive"));
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  // Owner only by default, as lines may hold anything. Shared with the
  // group: setgid, so that every file takes the directory's group (mkdir
  // ignores the setgid bit and the umask may take the group's: chmod).
  const mode_t dir_mode = options.share_with_group ? 02770 : 0700;
  if (::mkdir(path.c_str(), dir_mode & 0777) == 0) {
    if (options.share_with_group && ::chmod(path.c_str(), dir_mode) != 0) {
      return absl::InternalError(absl::StrCat(
          "file buffer '", path, "': chmod: ", ErrnoText(errno)));
    }
  } else if (errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("file buffer '", path, "': mkdir: ", ErrnoText(errno)));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "file buffer '", path, "': not a directory"));
  }
  return std::unique_ptr<LineFileBuffer>(
      new LineFileBuffer(std::move(path), std::move(options)));
}

LineFileBuffer::~LineFileBuffer() {
  absl::Status closed = CloseAllWriters();
  {
    std::lock_guard<std::mutex> guard(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  absl::Status committed = Commit(options_.lock_timeout);
  if (!closed.ok() || !committed.ok()) {
    std::fprintf(stderr, "syncstream: file buffer '%s': lines lost at close: %s\n",
                 path_.c_str(),
                 (committed.ok() ? closed : committed).ToString().c_str());
  }
}

absl::Status LineFileBuffer::Publish(const Record& record) {
  bool commit_now = false;
  {
    std::lock_guard<std::mutex> guard(queue_mutex_);
    queue_.last_frame = AppendRecordFrame(record, &scratch_, &queue_.frames);
    if (queue_.count++ == 0) queue_since_ = ::syncstream::Now();
    commit_now = options_.durability == Durability::kAlways ||
                 queue_.count >= options_.max_batch_records ||
                 queue_.frames.size() >= options_.max_batch_bytes;
    if (!commit_now && !flusher_.joinable() && !stopping_) {
      flusher_ = std::thread([this] { FlushLoop(); });
    }
  }
  if (!commit_now) return absl::OkStatus();
  absl::Status committed = Commit(options_.lock_timeout);
  if (committed.ok()) return committed;
  // The record is queued (Commit keeps a failed batch): say so, so that a
  // caller who retries does not write the line twice.
  absl::Status kept(committed.code(),
                    absl::StrCat("file buffer '", path_,
                                 "': line kept, not yet committed (a later "
                                 "Commit, the flusher or the close commits "
                                 "it: do not write it again): ",
                                 committed.message()));
  kept.SetPayload(kLineKeptPayload, absl::Cord("kept"));
  return kept;
}

bool LineFileBuffer::LineKept(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kLineKeptPayload).has_value();
}

void LineFileBuffer::FlushLoop() {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  while (!stopping_) {
    queue_cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.flush_interval));
    if (stopping_) break;
    if (queue_.count == 0 ||
        ::syncstream::Now() - queue_since_ < options_.flush_interval) {
      continue;
    }
    lock.unlock();
    absl::Status status = Commit(options_.lock_timeout);
    lock.lock();
    if (!status.ok()) flusher_status_ = status;
  }
}

absl::Status LineFileBuffer::Commit(absl::Duration timeout) {
  std::lock_guard<std::mutex> commit_guard(commit_mutex_);
  Batch batch;
  {
    std::lock_guard<std::mutex> guard(queue_mutex_);
    std::swap(batch, queue_);
  }
  if (batch.count == 0) return absl::OkStatus();
  absl::Status status = CommitBatch(batch, 0, timeout);
  if (status.ok()) {
    committed_records_.fetch_add(batch.count, std::memory_order_acq_rel);
  } else {
    // Keep the records, ahead of anything queued meanwhile.
    std::lock_guard<std::mutex> guard(queue_mutex_);
    if (queue_.count == 0) {
      queue_since_ = ::syncstream::Now();
    } else {
      batch.last_frame = batch.frames.size() + queue_.last_frame;
    }
    batch.frames.append(queue_.frames);
    batch.count += queue_.count;
    std::swap(batch, queue_);
  }
  return status;
}

absl::Status LineFileBuffer::CommitBatch(const Batch& batch, uint32_t flags,
                                         absl::Duration timeout) {
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<HeldLock> lock,
                              lock_file_.Acquire(timeout));
  absl::Status status = CommitLocked(*lock, batch, flags);
  absl::Status released = lock->Release();
  return status.ok() ? released : status;
}

absl::StatusOr<LineFileBuffer::Snapshot> LineFileBuffer::TakeSnapshot(
    bool repair) {
  Snapshot snap;
  SYNCSTREAM_ASSIGN_OR_RETURN(
      SegmentListing listing,
      ListSegmentDirectory(path_, options_.after_listing_for_testing));
  for (uint64_t generation : listing.generations) {
    snap.segments.push_back({generation, false, {}, {}});
  }
  snap.leftovers = std::move(listing.leftovers);
  if (!snap.segments.empty()) {
    // Forget headers of segments rotated away (by any instance).
    std::lock_guard<std::mutex> guard(header_mutex_);
    header_cache_.erase(header_cache_.begin(),
                        header_cache_.lower_bound(snap.segments[0].generation));
  }
  std::vector<Snapshot::Entry> present;
  for (Snapshot::Entry& entry : snap.segments) {
    snap.max_generation = std::max(snap.max_generation, entry.generation);
    {
      std::lock_guard<std::mutex> guard(header_mutex_);
      auto it = header_cache_.find(entry.generation);
      if (it != header_cache_.end()) {
        entry.header = it->second;
        entry.header_ok = true;
        present.push_back(entry);
        continue;
      }
    }
    const std::string name = SegmentFileName(entry.generation);
    auto header = ReadHeader(JoinPath(path_, name), name, nullptr);
    if (absl::IsNotFound(header.status())) continue;  // rotated away
    if (header.ok() && header->generation != entry.generation) {
      header = absl::DataLossError(absl::StrCat(
          "segment '", name, "': header names generation ",
          header->generation));
    }
    if (header.ok()) {
      entry.header = *header;
      entry.header_ok = true;
      std::lock_guard<std::mutex> guard(header_mutex_);
      header_cache_[entry.generation] = *header;
    } else {
      entry.problem = std::string(header.status().message());
    }
    present.push_back(entry);
  }
  snap.segments = std::move(present);
  for (int i = static_cast<int>(snap.segments.size()) - 1; i >= 0; --i) {
    if (snap.segments[i].header_ok) {
      snap.newest_valid = i;
      break;
    }
  }
  if (repair && snap.newest_valid >= 0) {
    Snapshot::Entry& newest = snap.segments[snap.newest_valid];
    RepairTail(newest.generation, &newest.header);
  }
  return snap;
}

void LineFileBuffer::RepairTail(uint64_t generation, SegmentHeader* header) {
  const std::string name = SegmentFileName(generation);
  const std::string path = JoinPath(path_, name);
  absl::StatusOr<UniqueFd> opened =
      internal::OpenRegularFile(path, O_RDWR, "segment");
  if (!opened.ok()) return;
  UniqueFd fd = *std::move(opened);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  // The common case in O(1): the size matches the header and the last
  // frame (its offset is in the header) passes its checksum.
  if (size == kSegmentHeaderSize + header->payload_bytes) {
    if (header->record_count == 0) return;
    const uint64_t last = header->last_frame_offset;
    if (last >= kSegmentHeaderSize && last < size) {
      std::string tail(size - last, '\0');
      if (::pread(fd.get(), &tail[0], tail.size(), last) ==
              static_cast<ssize_t>(tail.size()) &&
          IsValidFrameAt(tail, 0)) {
        return;
      }
    }
  }
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return;
  auto decoded = DecodeSegment(*bytes, name, /*parse_records=*/false);
  if (!decoded.ok() || decoded->damages.empty() ||
      !decoded->damages.back().torn_tail) {
    return;  // damage in the middle only: readers skip it and report it
  }
  uint32_t valid_frames = 0;
  auto kept = DecodeSegment(
      absl::string_view(*bytes).substr(0, decoded->valid_end), name);
  if (kept.ok()) valid_frames = static_cast<uint32_t>(kept->records.size());
  SegmentHeader fixed = *header;
  fixed.record_count = valid_frames;
  fixed.payload_bytes = decoded->valid_end - kSegmentHeaderSize;
  fixed.last_frame_offset = static_cast<uint32_t>(decoded->last_frame_offset);
  std::string encoded;
  EncodeSegmentHeader(fixed, &encoded);
  if (::ftruncate(fd.get(), decoded->valid_end) != 0 ||
      ::pwrite(fd.get(), encoded.data(), encoded.size(), 0) !=
          static_cast<ssize_t>(encoded.size())) {
    return;
  }
  ::fdatasync(fd.get());
  *header = fixed;
  {
    std::lock_guard<std::mutex> guard(header_mutex_);
    header_cache_[generation] = fixed;
  }
  std::fprintf(stderr,
               "syncstream: file buffer '%s': repaired torn tail of %s (%s at "
               "offset %llu; %u records kept)\n",
               path_.c_str(), name.c_str(),
               decoded->damages.back().cause.c_str(),
               static_cast<unsigned long long>(decoded->valid_end),
               valid_frames);
}

absl::Status LineFileBuffer::LinkSegment(const SegmentHeader& header,
                                         const std::string& frames) {
  const std::string stage = JoinPath(
      path_, absl::StrFormat("tmp-%016x-%u", nonce_, header.generation));
  std::string head;
  EncodeSegmentHeader(header, &head);
  {
    const mode_t mode = options_.share_with_group ? 0660 : 0600;
    absl::StatusOr<UniqueFd> created =
        internal::CreateExclusive(stage, mode, "staging file");
    if (absl::IsAlreadyExists(created.status())) {
      // Left by an earlier attempt of this instance, or planted: never
      // opened (it may be a FIFO or a link), replaced.
      ::unlink(stage.c_str());
      created = internal::CreateExclusive(stage, mode, "staging file");
    }
    if (!created.ok()) {
      return absl::Status(created.status().code(),
                          absl::StrCat("file buffer '", path_, "': ",
                                       created.status().message()));
    }
    UniqueFd fd = *std::move(created);
    size_t total = head.size() + frames.size();
    size_t done = 0;
    while (done < total) {
      struct iovec iov[2];
      int n_iov = 0;
      if (done < head.size()) {
        iov[n_iov++] = {const_cast<char*>(head.data()) + done,
                        head.size() - done};
        iov[n_iov++] = {const_cast<char*>(frames.data()), frames.size()};
      } else {
        size_t off = done - head.size();
        iov[n_iov++] = {const_cast<char*>(frames.data()) + off,
                        frames.size() - off};
      }
      ssize_t n = ::writev(fd.get(), iov, n_iov);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::unlink(stage.c_str());
        return absl::InternalError(absl::StrCat(
            "file buffer '", path_, "': write staging file: ", ErrnoText(err)));
      }
      done += static_cast<size_t>(n);
    }
    if (options_.durability != Durability::kNever && ::fdatasync(fd.get()) != 0) {
      int err = errno;
      ::unlink(stage.c_str());
      return absl::InternalError(absl::StrCat(
          "file buffer '", path_, "': fdatasync: ", ErrnoText(err)));
    }
  }
  const std::string name = SegmentFileName(header.generation);
  const std::string target = JoinPath(path_, name);
  // The commit: link never replaces an existing name.
  int linked = ::link(stage.c_str(), target.c_str());
  int err = errno;
  ::unlink(stage.c_str());
  if (linked != 0) {
    if (err != EEXIST) {
      return absl::InternalError(absl::StrCat(
          "file buffer '", path_, "': link ", name, ": ", ErrnoText(err)));
    }
    // EEXIST: ours after all (a retransmitted NFS link), or fenced.
    auto existing = ReadHeader(target, name, nullptr);
    if (absl::IsFailedPrecondition(existing.status())) {
      // Planted after our listing; the next attempt lists it and moves on.
      return absl::AbortedError(absl::StrCat(
          "file buffer '", path_, "': write refused: ",
          existing.status().message(), "; nothing was written"));
    }
    if (!existing.ok() || existing->writer_nonce != nonce_) {
      return absl::AbortedError(absl::StrCat(
          "file buffer '", path_, "': write refused: generation ",
          header.generation,
          " was committed by another holder (this process was fenced: its "
          "lock lease expired while it was paused); nothing was written"));
    }
  }
  {
    std::lock_guard<std::mutex> guard(header_mutex_);
    header_cache_[header.generation] = header;
  }
  if (options_.durability != Durability::kNever) {
    SYNCSTREAM_RETURN_IF_ERROR(SyncDirectory(path_));
  }
  return absl::OkStatus();
}

absl::Status LineFileBuffer::CommitLocked(HeldLock& lock, const Batch& batch,
                                          uint32_t flags) {
  SYNCSTREAM_ASSIGN_OR_RETURN(Snapshot snap,
                              TakeSnapshot(/*repair=*/true));
  if (lock.took_over()) {
    // Burn the generation a paused previous holder would commit next, so
    // that its late write is refused. Never reused: link does not replace.
    // If that holder linked it first (before we took over), look again.
    for (int attempt = 0;; ++attempt) {
      SegmentHeader burn;
      burn.generation = snap.max_generation + 1;
      burn.first_index = snap.end_index();
      burn.clear_index = snap.clear_index();
      burn.writer_nonce = nonce_;
      SYNCSTREAM_RETURN_IF_ERROR(lock.SetGeneration(burn.generation));
      SYNCSTREAM_RETURN_IF_ERROR(lock.Verify());
      absl::Status burned = LinkSegment(burn, std::string());
      if (burned.ok()) break;
      if (!absl::IsAborted(burned) || attempt == 2) return burned;
      SYNCSTREAM_ASSIGN_OR_RETURN(snap, TakeSnapshot(/*repair=*/true));
    }
    SYNCSTREAM_ASSIGN_OR_RETURN(snap, TakeSnapshot(/*repair=*/false));
  }
  const uint64_t end = snap.end_index();
  const uint64_t clear = snap.clear_index();
  const uint64_t generation = snap.max_generation + 1;
  SYNCSTREAM_RETURN_IF_ERROR(lock.SetGeneration(generation));
  // Claimed after listing, verified after claiming: a holder whose lock was
  // taken over before this point stops here; one taken over after it meets
  // the burned generation at link time.
  SYNCSTREAM_RETURN_IF_ERROR(lock.Verify());
  SegmentHeader header;
  header.generation = generation;
  header.first_index = end;
  header.clear_index = (flags & kSegmentFlagClear) ? end : clear;
  header.record_count = batch.count;
  header.flags = flags;
  header.payload_bytes = batch.frames.size();
  header.writer_nonce = nonce_;
  header.last_frame_offset =
      batch.count ? static_cast<uint32_t>(kSegmentHeaderSize + batch.last_frame)
                  : 0;
  if (options_.before_link_for_testing) options_.before_link_for_testing();
  SYNCSTREAM_RETURN_IF_ERROR(LinkSegment(header, batch.frames));
  snap.segments.push_back({generation, true, header});
  Rotate(snap, header.end_index(), header.clear_index);
  return absl::OkStatus();
}

void LineFileBuffer::Rotate(const Snapshot& snap, uint64_t end,
                            uint64_t clear) {
  const uint64_t keep_from =
      std::max<uint64_t>(clear, end > options_.maxlen ? end - options_.maxlen : 0);
  // Oldest kept: the first valid segment with records at or after keep_from.
  // The newest segment is always kept (it carries the indexes).
  size_t first_kept = snap.segments.size() - 1;
  for (size_t i = 0; i + 1 < snap.segments.size(); ++i) {
    const auto& entry = snap.segments[i];
    if (entry.header_ok && entry.header.end_index() > keep_from &&
        !entry.header.is_clear_marker()) {
      first_kept = i;
      break;
    }
  }
  for (size_t i = 0; i < first_kept; ++i) {
    const uint64_t generation = snap.segments[i].generation;
    ::unlink(JoinPath(path_, SegmentFileName(generation)).c_str());
    std::lock_guard<std::mutex> guard(header_mutex_);
    header_cache_.erase(generation);
  }
  // Staging and lock leftovers of dead or fenced processes.
  const absl::Time now = ::syncstream::Now();
  for (const std::string& name : snap.leftovers) {
    const std::string path = JoinPath(path_, name);
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 &&
        now - absl::FromTimeT(st.st_mtime) > 2 * options_.lease + absl::Seconds(1)) {
      ::unlink(path.c_str());
    }
  }
}

absl::StatusOr<std::vector<Record>> LineFileBuffer::Collect(
    uint64_t from, size_t limit, bool follow, uint64_t* next,
    ReadReport* report) {
  constexpr int kAttempts = 4;
  for (int attempt = 0;; ++attempt) {
    ReadReport local;
    SYNCSTREAM_ASSIGN_OR_RETURN(Snapshot snap, TakeSnapshot(/*repair=*/false));
    const uint64_t end = snap.end_index();
    const uint64_t window = std::min<uint64_t>(limit, options_.maxlen);
    const uint64_t wanted = std::max<uint64_t>(from, snap.clear_index());
    uint64_t lower = wanted;
    if (end > window) lower = std::max<uint64_t>(lower, end - window);
    if (next != nullptr) *next = end;
    std::vector<std::vector<Record>> chunks;  // newest first
    bool vanished = false;
    // Where the segments read cover [covered, end) without a gap (and
    // whether an unreadable segment lies just below `covered`): records
    // in [lower, covered) are gone from the directory.
    uint64_t covered = end;
    bool unreadable_below = false;
    for (auto it = snap.segments.rbegin(); it != snap.segments.rend(); ++it) {
      const std::string name = SegmentFileName(it->generation);
      if (!it->header_ok) {
        local.unreadable_segments.push_back(it->problem);
        unreadable_below = true;
        continue;
      }
      const SegmentHeader& h = it->header;
      if (h.end_index() <= lower) {
        covered = lower;
        break;
      }
      if (h.record_count == 0) continue;
      auto bytes = ReadWholeFile(JoinPath(path_, name));
      if (absl::IsNotFound(bytes.status())) {
        vanished = true;
        break;
      }
      unreadable_below = false;
      covered = std::max(lower, h.first_index);
      if (!bytes.ok()) {  // replaced since its header was read
        local.unreadable_segments.push_back(
            std::string(bytes.status().message()));
        if (h.first_index <= lower) break;
        continue;
      }
      auto decoded = DecodeSegment(*bytes, name);
      if (!decoded.ok()) {
        local.unreadable_segments.push_back(
            std::string(decoded.status().message()));
        if (h.first_index <= lower) break;
        continue;
      }
      for (SegmentDamage& damage : decoded->damages) {
        local.damages.push_back({name, std::move(damage)});
      }
      std::vector<Record>& records = decoded->records;
      const uint64_t count = h.end_index() - covered;
      if (records.size() > count) {
        records.erase(records.begin(), records.end() - count);
      }
      chunks.push_back(std::move(records));
      if (h.first_index <= lower) break;
    }
    if (vanished && attempt + 1 < kAttempts) continue;  // rotated: look again
    if (follow && !unreadable_below && covered > wanted) {
      local.rotated_away = covered - wanted;
    }
    std::vector<Record> out;
    for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) {
      std::move(it->begin(), it->end(), std::back_inserter(out));
    }
    if (report != nullptr) *report = std::move(local);
    return out;
  }
}

absl::StatusOr<std::vector<Record>> LineFileBuffer::Read(size_t n,
                                                         ReadReport* report) {
  SYNCSTREAM_RETURN_IF_ERROR(Commit(options_.lock_timeout));
  if (n == 0) return std::vector<Record>();
  return Collect(0, n, /*follow=*/false, nullptr, report);
}

absl::StatusOr<std::vector<Record>> LineFileBuffer::ReadFrom(
    uint64_t from, uint64_t* next, ReadReport* report) {
  return Collect(from, options_.maxlen, /*follow=*/true, next, report);
}

absl::StatusOr<size_t> LineFileBuffer::Size() {
  SYNCSTREAM_RETURN_IF_ERROR(Commit(options_.lock_timeout));
  SYNCSTREAM_ASSIGN_OR_RETURN(Snapshot snap, TakeSnapshot(/*repair=*/false));
  return static_cast<size_t>(std::min<uint64_t>(
      options_.maxlen, snap.end_index() - snap.clear_index()));
}

absl::Status LineFileBuffer::Clear() {
  SYNCSTREAM_RETURN_IF_ERROR(Commit(options_.lock_timeout));
  std::lock_guard<std::mutex> commit_guard(commit_mutex_);
  return CommitBatch(Batch(), kSegmentFlagClear, options_.lock_timeout);
}

absl::StatusOr<std::vector<SegmentInfo>> LineFileBuffer::ListSegments(
    const std::string& path, bool check_frames) {
  SYNCSTREAM_ASSIGN_OR_RETURN(SegmentListing listing,
                              ListSegmentDirectory(path, nullptr));
  std::vector<SegmentInfo> present;
  for (uint64_t generation : listing.generations) {
    SegmentInfo info;
    info.generation = generation;
    info.name = SegmentFileName(generation);
    const std::string file = JoinPath(path, info.name);
    auto header = ReadHeader(file, info.name, &info.file_size);
    if (absl::IsNotFound(header.status())) continue;  // rotated away meanwhile
    if (header.ok()) {
      info.header = *header;
      info.header_ok = true;
    } else {
      info.problem = std::string(header.status().message());
    }
    if (check_frames && info.header_ok) CheckFrames(file, &info);
    present.push_back(std::move(info));
  }
  return present;
}

void LineFileBuffer::CheckFrames(const std::string& file, SegmentInfo* info) {
  auto bytes = ReadWholeFile(file);
  if (!bytes.ok()) {
    info->problem = std::string(bytes.status().message());
    return;
  }
  // As a reader decodes it: frames and records that fail their checks.
  auto decoded = DecodeSegment(*bytes, info->name);
  if (!decoded.ok()) {
    info->problem = std::string(decoded.status().message());
    return;
  }
  info->valid_records = static_cast<uint32_t>(decoded->records.size());
  info->damages = std::move(decoded->damages);
  // Cut at a frame boundary, a file shows no bad frame: only its size
  // tells (a reader finds fewer records than the header counts).
  const uint64_t expected = kSegmentHeaderSize + info->header.payload_bytes;
  if (bytes->size() < expected &&
      (info->damages.empty() || !info->damages.back().torn_tail)) {
    SegmentDamage torn;
    torn.offset = bytes->size();
    torn.length = expected - bytes->size();
    torn.torn_tail = true;
    torn.cause = absl::StrCat("file ends ", torn.length,
                              " bytes before the end its header gives");
    info->damages.push_back(std::move(torn));
  }
}

}  // namespace syncstream::file
