#include "syncstream/core/shared_memory_names.h"

#include <dirent.h>
#include <errno.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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

}  // namespace syncstream
