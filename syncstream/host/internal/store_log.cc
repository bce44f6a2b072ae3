#include "syncstream/host/internal/store_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/core/posix_io.h"

namespace syncstream::host::internal {
namespace {

constexpr char kMagic[8] = {'S', 'S', 'H', 'O', 'S', 'T', 'L', 'G'};
// 1: entries of the host's own framing; 2: segment-format frames; 3: batches
// logged in the batch encoding (LoggedBatch.records). Version 2 logs are
// still read (the collector rewrites them as version 3 when it opens them).
constexpr unsigned char kFormatVersion = 3;
constexpr unsigned char kOldestReadableVersion = 2;

// How errors name a store file.
std::string StoreName(const std::string& path) {
  return absl::StrCat("store '", path, "'");
}

// errno after `what` failed on the file at `path`.
absl::Status Errno(absl::string_view what, const std::string& path) {
  return ErrnoStatus(errno, StoreName(path), what);
}

}  // namespace

std::string StoreLogHeader() {
  std::string header(kStoreLogHeaderBytes, '\0');
  std::memcpy(&header[0], kMagic, sizeof(kMagic));
  header[8] = static_cast<char>(kFormatVersion);  // u32 little-endian
  return header;
}

absl::StatusOr<uint64_t> ReplayStoreLog(absl::string_view bytes,
                                        const std::string& path,
                                        const ReplayFunction& replay,
                                        ReplayReport* report) {
  *report = ReplayReport();
  if (bytes.size() < kStoreLogHeaderBytes ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(absl::StrCat(
        "store '", path, "': header magic mismatch (not a syncstream host "
        "store?)"));
  }
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i) {
    version |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[8 + i]))
               << (8 * i);
  }
  if (version < kOldestReadableVersion || version > kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store '", path, "': format version ", version, ", this collector "
        "reads versions ", static_cast<int>(kOldestReadableVersion), " to ",
        static_cast<int>(kFormatVersion)));
  }
  absl::Status failed;
  bool damaged = false;
  auto add_damage = [&](uint64_t length, absl::string_view cause) {
    if (report->discarded_reason.empty()) {
      report->discarded_reason = std::string(cause);
    }
    report->discarded_bytes += length;
    damaged = true;
  };
  proto::HostLogEntry entry;
  const file::FrameWalkEnd end = file::WalkFrames(
      bytes, kStoreLogHeaderBytes,
      [&](uint64_t offset, absl::string_view payload) {
        if (!failed.ok()) return;
        if (damaged) report->damaged_middle = true;
        if (!entry.ParseFromArray(payload.data(),
                                  static_cast<int>(payload.size()))) {
          add_damage(file::kFrameHeaderSize + payload.size(),
                     absl::StrCat("the entry at offset ", offset,
                                  " does not parse"));
          return;
        }
        absl::Status replayed = replay(entry);
        if (!replayed.ok()) {
          failed = absl::Status(
              replayed.code(), absl::StrCat("store '", path, "': entry ",
                                            report->entries, ": ",
                                            replayed.message()));
          return;
        }
        ++report->entries;
      },
      [&](file::SegmentDamage damage) {
        add_damage(damage.length, damage.cause);
        if (damage.torn_tail) report->torn_tail_bytes = damage.length;
      });
  if (!failed.ok()) return failed;
  return end.valid_end;
}

StoreLog::StoreLog(std::string dir, bool sync, UniqueFd lock, UniqueFd log,
                   uint64_t size)
    : dir_(std::move(dir)),
      path_(dir_ + "/host.log"),
      sync_(sync),
      lock_(std::move(lock)),
      log_(std::move(log)),
      size_(size) {}

absl::StatusOr<std::unique_ptr<StoreLog>> StoreLog::Open(
    const std::string& dir, bool sync, const Replay& replay,
    ReplayReport* report) {
  *report = ReplayReport();
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("mkdir", dir);
  }
  const std::string lock_path = dir + "/host.lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid()) return Errno("open lock file", lock_path);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store '", dir, "': in use by another collector (", lock_path,
          " is locked)"));
    }
    return Errno("flock", lock_path);
  }
  const std::string path = dir + "/host.log";
  UniqueFd log(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!log.valid()) return Errno("open", path);
  SYNCSTREAM_ASSIGN_OR_RETURN(std::string contents,
                              ReadAll(log.get(), StoreName(path)));
  uint64_t good = 0;
  if (contents.empty()) {
    const std::string header = StoreLogHeader();
    if (::pwrite(log.get(), header.data(), header.size(), 0) !=
        static_cast<ssize_t>(header.size())) {
      return Errno("write header", path);
    }
    good = header.size();
  } else {
    SYNCSTREAM_ASSIGN_OR_RETURN(good,
                                ReplayStoreLog(contents, path, replay, report));
    if (good < contents.size() &&
        ::ftruncate(log.get(), static_cast<off_t>(good)) != 0) {
      return Errno("truncate the torn tail", path);
    }
  }
  if (::lseek(log.get(), static_cast<off_t>(good), SEEK_SET) < 0) {
    return Errno("seek", path);
  }
  return std::unique_ptr<StoreLog>(
      new StoreLog(dir, sync, std::move(lock), std::move(log), good));
}

absl::Status StoreLog::Append(const proto::HostLogEntry& entry) {
  scratch_.clear();
  absl::StatusOr<size_t> encoded = file::AppendMessageFrame(entry, &scratch_);
  if (!encoded.ok()) {
    return absl::Status(encoded.status().code(),
                        absl::StrCat("store '", path_, "': ",
                                     encoded.status().message()));
  }
  absl::Status written = WriteAll(log_.get(), scratch_, StoreName(path_));
  if (!written.ok()) {
    // Cut a partial write so the file stays a sequence of whole entries.
    if (::ftruncate(log_.get(), static_cast<off_t>(size_)) == 0) {
      ::lseek(log_.get(), static_cast<off_t>(size_), SEEK_SET);
    }
    return written;
  }
  size_ += scratch_.size();
  if (sync_ && ::fdatasync(log_.get()) != 0) return Errno("fdatasync", path_);
  return absl::OkStatus();
}

absl::Status StoreLog::Rewrite(
    const std::function<absl::Status(const Replay& emit)>& produce) {
  const std::string temp = path_ + ".compacting";
  UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0600));
  if (!out.valid()) return Errno("open", temp);
  std::string buffer = StoreLogHeader();
  absl::Status status = produce([&](const proto::HostLogEntry& entry) {
    SYNCSTREAM_RETURN_IF_ERROR(file::AppendMessageFrame(entry, &buffer).status());
    if (buffer.size() >= (1 << 20)) {
      SYNCSTREAM_RETURN_IF_ERROR(WriteAll(out.get(), buffer, StoreName(temp)));
      buffer.clear();
    }
    return absl::OkStatus();
  });
  if (status.ok()) status = WriteAll(out.get(), buffer, StoreName(temp));
  if (status.ok() && ::fsync(out.get()) != 0) status = Errno("fsync", temp);
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  struct stat st;
  if (::fstat(out.get(), &st) != 0) return Errno("fstat", temp);
  if (::rename(temp.c_str(), path_.c_str()) != 0) return Errno("rename", temp);
  UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  UniqueFd log(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!log.valid()) return Errno("reopen", path_);
  log_ = std::move(log);
  size_ = static_cast<uint64_t>(st.st_size);
  return absl::OkStatus();
}

}  // namespace syncstream::host::internal
