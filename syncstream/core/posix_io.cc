#include "syncstream/core/posix_io.h"

#include <errno.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace syncstream {

absl::Status ErrnoStatus(int error_number, absl::string_view what,
                         absl::string_view operation) {
  return absl::ErrnoToStatus(error_number, absl::StrCat(what, ": ", operation));
}

absl::Status WriteAll(int fd, absl::string_view data, absl::string_view what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status WriteAllAt(int fd, absl::string_view data, off_t offset,
                        absl::string_view what) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAll(int fd, absl::string_view what) {
  std::string contents;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) return contents;
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what, "read");
    }
    contents.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace syncstream
