#include "syncstream/file/internal/shared_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace syncstream::file::internal {
namespace {

absl::Status OpenError(int err, const std::string& path, absl::string_view what,
                       absl::string_view operation) {
  const std::string message =
      absl::StrCat(what, " '", path, "': ", operation, ": ", ErrnoText(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

absl::Status NotRegular(const std::string& path, absl::string_view what,
                        absl::string_view kind) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, " '", path, "': not a regular file (", kind, ")"));
}

}  // namespace

std::string ErrnoText(int err) { return std::strerror(err); }

std::string DescribeFileType(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "of an unknown type";
}

absl::StatusOr<UniqueFd> OpenRegularFile(const std::string& path, int flags,
                                         absl::string_view what) {
  // O_NONBLOCK: opening a FIFO returns at once (ENXIO for a writer without
  // a reader) instead of waiting for its other end; it changes nothing for
  // a regular file. O_NOFOLLOW: a symbolic link fails with ELOOP.
  UniqueFd fd(
      ::open(path.c_str(), flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP) return NotRegular(path, what, "a symbolic link");
    if (err == ENXIO) return NotRegular(path, what, "a FIFO or a device");
    return OpenError(err, path, what, "open");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return OpenError(errno, path, what, "fstat");
  if (!S_ISREG(st.st_mode)) {
    return NotRegular(path, what, DescribeFileType(st.st_mode));
  }
  return fd;
}

absl::StatusOr<std::string> ReadRegularFile(const std::string& path,
                                            size_t max_bytes,
                                            absl::string_view what) {
  absl::StatusOr<UniqueFd> fd = OpenRegularFile(path, O_RDONLY, what);
  if (!fd.ok()) return fd.status();
  size_t size = max_bytes;
  if (max_bytes == std::numeric_limits<size_t>::max()) {
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) {
      return OpenError(errno, path, what, "fstat");
    }
    size = static_cast<size_t>(st.st_size);
  }
  std::string data(size, '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd->get(), &data[got], data.size() - got, got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return OpenError(errno, path, what, "read");
    if (n == 0) break;  // shorter than asked (or shrank since fstat)
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

absl::StatusOr<UniqueFd> CreateExclusive(const std::string& path, mode_t mode,
                                         absl::string_view what) {
  UniqueFd fd(::open(path.c_str(),
                     O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) {
    const int err = errno;
    if (err == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat(what, " '", path, "': exists"));
    }
    return OpenError(err, path, what, "create");
  }
  // The umask may have taken group bits that were asked for on purpose.
  if ((mode & 077) != 0 && ::fchmod(fd.get(), mode) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return OpenError(err, path, what, "fchmod");
  }
  return fd;
}

}  // namespace syncstream::file::internal
