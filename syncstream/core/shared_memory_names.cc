#include "syncstream/core/shared_memory_names.h"

#include <dirent.h>
#include <errno.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace syncstream {

absl::StatusOr<std::vector<std::string>> SharedMemoryNames(absl::string_view prefix) {
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) {
    return absl::UnavailableError(absl::StrCat("/dev/shm: ", strerror(errno)));
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dir)) {
    absl::string_view file = e->d_name;
    if (file.size() > prefix.size() && absl::StartsWith(file, prefix)) {
      names.emplace_back(file.substr(prefix.size()));
    }
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace syncstream
