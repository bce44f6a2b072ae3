#include "syncstream/manager/internal/wait_readable.h"

#include <errno.h>
#include <poll.h>

#include <algorithm>
#include <cstdint>

#include "syncstream/core/deadline.h"

namespace syncstream::manager::internal {

void WaitUntilReadable(const net::Connection& connection, absl::Time deadline) {
  if (connection.HasBufferedFrame()) return;
  for (;;) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = TimeLeft(deadline);
      if (left <= absl::ZeroDuration()) return;
      // Rounded up, so that a wait never ends before the deadline; capped,
      // the loop waits again.
      timeout_ms = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(left + absl::Microseconds(999)),
          3600 * 1000));
    }
    pollfd p{connection.fd(), POLLIN, 0};
    const int rc = ::poll(&p, 1, timeout_ms);
    if (rc > 0 || (rc < 0 && errno != EINTR)) return;  // Receive tells
    if (rc == 0 && deadline == absl::InfiniteFuture()) continue;
  }
}

}  // namespace syncstream::manager::internal
