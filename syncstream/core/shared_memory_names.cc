#include "syncstream/core/shared_memory_names.h"

#include <dirent.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace syncstream {

absl::StatusOr<std::vector<std::string>> SharedMemoryNames(absl::string_view prefix) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/dev/shm"), &::closedir);
  if (dir == nullptr) {
    return absl::UnavailableError(absl::StrCat("/dev/shm: ", strerror(errno)));
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dir.get())) {
    absl::string_view file = e->d_name;
    if (file.size() > prefix.size() && absl::StartsWith(file, prefix)) {
      names.emplace_back(file.substr(prefix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status RemoveSharedMemory(const std::string& shm_name, absl::string_view what) {
  if (::shm_unlink(shm_name.c_str()) == 0) return absl::OkStatus();
  const int err = errno;
  return absl::Status(
      err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kPermissionDenied,
      absl::StrCat(what, ": ", strerror(err)));
}

absl::Status CheckSharedMemoryIsPrivate(int fd, absl::string_view what) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::UnavailableError(absl::StrCat(what, ": fstat: ", strerror(errno)));
  }
  const uid_t me = ::geteuid();
  if (st.st_uid != me) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s: belongs to uid %d, not to this user (uid %d): another user may read and "
        "forge what passes through it",
        what, st.st_uid, me));
  }
  if ((st.st_mode & 022) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s: mode %04o lets %s write it: they may read and forge what passes through it",
        what, st.st_mode & 07777, (st.st_mode & 020) ? "the group" : "other users"));
  }
  return absl::OkStatus();
}

}  // namespace syncstream
