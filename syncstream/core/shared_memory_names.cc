#include "syncstream/core/shared_memory_names.h"

#include <dirent.h>
#include <errno.h>

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

}  // namespace syncstream
