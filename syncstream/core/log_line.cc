#include "syncstream/core/log_line.h"

#include <errno.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace syncstream {

void WriteLogLine(absl::string_view prefix, absl::string_view message,
                  int fd) {
  const std::string line = absl::StrCat(prefix, message, "\n");
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;
    }
  }
}

}  // namespace syncstream
