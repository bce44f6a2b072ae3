#include "syncstream/host/internal/store_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "syncstream/core/status_macros.h"

namespace syncstream::host::internal {
namespace {

constexpr char kMagic[8] = {'S', 'S', 'H', 'O', 'S', 'T', 'L', 'G'};
constexpr uint32_t kFormatVersion = 1;

void PutU32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
  p[2] = static_cast<char>(v >> 16);
  p[3] = static_cast<char>(v >> 24);
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) |
         (static_cast<uint32_t>(u[3]) << 24);
}

uint32_t Checksum(absl::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()),
            static_cast<uInt>(bytes.size())));
}

std::string FileHeader() {
  std::string header(kStoreLogHeaderBytes, '\0');
  std::memcpy(&header[0], kMagic, sizeof(kMagic));
  PutU32(&header[8], kFormatVersion);
  return header;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("store '", path, "': ", what, ": ", std::strerror(errno)));
}

absl::StatusOr<std::string> ReadWholeFile(int fd, const std::string& path) {
  std::string contents;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path);
    }
    contents.append(buffer, static_cast<size_t>(n));
  }
  return contents;
}

}  // namespace

absl::StatusOr<size_t> DecodeStoreLogEntry(absl::string_view bytes,
                                           proto::HostLogEntry* entry) {
  if (bytes.size() < kStoreLogEntryHeaderBytes) return 0;
  const uint32_t length = GetU32(bytes.data());
  const uint32_t checksum = GetU32(bytes.data() + 4);
  if (length > kMaxEntryBytes) {
    return absl::DataLossError(absl::StrCat("entry length ", length,
                                            " exceeds the maximum of ",
                                            kMaxEntryBytes));
  }
  if (bytes.size() - kStoreLogEntryHeaderBytes < length) return 0;
  absl::string_view payload = bytes.substr(kStoreLogEntryHeaderBytes, length);
  if (Checksum(payload) != checksum) {
    return absl::DataLossError(
        absl::StrCat("checksum mismatch in a ", length, "-byte entry"));
  }
  if (!entry->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError(
        absl::StrCat("a ", length, "-byte entry does not parse"));
  }
  return kStoreLogEntryHeaderBytes + length;
}

absl::Status EncodeStoreLogEntry(const proto::HostLogEntry& entry,
                                 std::string* out) {
  const size_t length = entry.ByteSizeLong();
  if (length > kMaxEntryBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "log entry of ", length, " bytes exceeds the maximum of ",
        kMaxEntryBytes));
  }
  const size_t old = out->size();
  out->resize(old + kStoreLogEntryHeaderBytes + length);
  char* p = &(*out)[old];
  entry.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(p + kStoreLogEntryHeaderBytes));
  PutU32(p, static_cast<uint32_t>(length));
  PutU32(p + 4, Checksum(absl::string_view(p + kStoreLogEntryHeaderBytes,
                                           length)));
  return absl::OkStatus();
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
                              ReadWholeFile(log.get(), path));
  const std::string header = FileHeader();
  uint64_t good = 0;
  if (contents.empty()) {
    if (::pwrite(log.get(), header.data(), header.size(), 0) !=
        static_cast<ssize_t>(header.size())) {
      return Errno("write header", path);
    }
    good = header.size();
  } else {
    if (contents.size() < kStoreLogHeaderBytes ||
        std::memcmp(contents.data(), kMagic, sizeof(kMagic)) != 0) {
      return absl::DataLossError(absl::StrCat(
          "store '", path, "': header magic mismatch (not a syncstream host "
          "store?)"));
    }
    uint32_t version = GetU32(contents.data() + 8);
    if (version != kFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store '", path, "': format version ", version, ", expected ",
          kFormatVersion));
    }
    good = kStoreLogHeaderBytes;
    absl::string_view rest(contents);
    rest.remove_prefix(kStoreLogHeaderBytes);
    proto::HostLogEntry entry;
    while (!rest.empty()) {
      absl::StatusOr<size_t> used = DecodeStoreLogEntry(rest, &entry);
      if (!used.ok() || *used == 0) {
        report->discarded_bytes = rest.size();
        report->discarded_reason =
            used.ok() ? "a torn entry at the end" : std::string(used.status().message());
        break;
      }
      absl::Status replayed = replay(entry);
      if (!replayed.ok()) {
        return absl::Status(replayed.code(),
                            absl::StrCat("store '", path, "': entry ",
                                         report->entries, ": ",
                                         replayed.message()));
      }
      ++report->entries;
      good += *used;
      rest.remove_prefix(*used);
    }
    if (report->discarded_bytes > 0 &&
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

absl::Status StoreLog::WriteAll(int fd, absl::string_view bytes,
                                const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status StoreLog::Append(const proto::HostLogEntry& entry) {
  scratch_.clear();
  SYNCSTREAM_RETURN_IF_ERROR(EncodeStoreLogEntry(entry, &scratch_));
  absl::Status written = WriteAll(log_.get(), scratch_, path_);
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
  std::string buffer = FileHeader();
  absl::Status status = produce([&](const proto::HostLogEntry& entry) {
    SYNCSTREAM_RETURN_IF_ERROR(EncodeStoreLogEntry(entry, &buffer));
    if (buffer.size() >= (1 << 20)) {
      SYNCSTREAM_RETURN_IF_ERROR(WriteAll(out.get(), buffer, temp));
      buffer.clear();
    }
    return absl::OkStatus();
  });
  if (status.ok()) status = WriteAll(out.get(), buffer, temp);
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
