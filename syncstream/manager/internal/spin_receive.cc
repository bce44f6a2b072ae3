#include "syncstream/manager/internal/spin_receive.h"

#include <fcntl.h>
#include <errno.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "syncstream/core/deadline.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/manager/internal/wait_readable.h"

namespace syncstream::manager::internal {

namespace {

// Whether a read would not block (data, end of stream or an error to
// report), without consuming anything: one syscall, no clock read.
bool SocketReadable(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace

absl::Status SpinThenReceive(net::Connection& connection,
                             google::protobuf::MessageLite* message,
                             SpinPolicy* policy, absl::Time deadline,
                             SpinGate* gate) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  absl::Duration spin =
      policy != nullptr ? policy->NextSpin() : absl::ZeroDuration();
  absl::Status got;
  bool done = false;
  if (spin > absl::ZeroDuration() && gate != nullptr && !gate->Enter()) {
    spin = absl::ZeroDuration();
  }
  if (spin > absl::ZeroDuration()) {
    const Clock::time_point spin_end = start + absl::ToChronoNanoseconds(spin);
    auto readable = [&] {
      return connection.HasBufferedFrame() || SocketReadable(connection.fd());
    };
    // A readable socket may hold only part of a frame: spin on for the rest.
    for (absl::Duration left = spin; left > absl::ZeroDuration();
         left = absl::FromChrono(spin_end - Clock::now())) {
      if (!SpinUntil(std::min(left, TimeLeft(deadline)), readable)) break;
      // A zero timeout reads what the socket has and never sleeps.
      got = connection.Receive(message, absl::ZeroDuration());
      if (!absl::IsDeadlineExceeded(got)) {  // a frame, or an error
        done = true;
        break;
      }
    }
    if (gate != nullptr) gate->Leave();
  }
  if (!done) {
    // A blocking receive waits in recv() itself; otherwise poll first, so
    // that the read does not find nothing.
    if (!connection.blocking_receives()) WaitUntilReadable(connection, deadline);
    got = connection.Receive(message, TimeLeft(deadline));
  }
  if (policy != nullptr) {
    policy->Record(absl::FromChrono(Clock::now() - start), spin, !done);
  }
  return got;
}

}  // namespace syncstream::manager::internal
