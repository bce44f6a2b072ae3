// Receiving a request or reply with adaptive busy-polling.
//
// A manager call is a round trip whose cost is mostly two wake-ups: the
// server thread sleeping in poll() until the request arrives, the client
// sleeping until the reply does. When the other side answers within a few
// microseconds (an uncontended acquire, a dict get, a client's next call),
// spinning on non-blocking receives for that long instead of sleeping saves
// both the scheduler's round trip and the wake-up latency. When to spin is
// the project's one waiting policy (syncstream/core/spin_wait.h).
#ifndef SYNCSTREAM_MANAGER_INTERNAL_SPIN_RECEIVE_H_
#define SYNCSTREAM_MANAGER_INTERNAL_SPIN_RECEIVE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"
#include "syncstream/core/spin_wait.h"
#include "syncstream/net/connection.h"

namespace syncstream::manager::internal {

// How long a blocking receive sleeps in recv() at a time (connections of
// the manager and its clients use Connection::EnableBlockingReceives).
inline constexpr absl::Duration kBlockingReceiveSlice = absl::Seconds(1);

using ::syncstream::SpinGate;
using ::syncstream::SpinPolicy;

// Receives the next frame into `message` (as Connection::Receive): first
// with non-blocking reads for up to `spin`, then by sleeping in the receive
// (Connection::EnableBlockingReceives) or until the socket is readable,
// until `deadline`. Returns Receive's status
// (DeadlineExceeded at `deadline`). With a `policy`, the spin is what it
// allows and the wait is recorded in it. With a `gate`, it spins only if
// the gate lets it.
absl::Status SpinThenReceive(net::Connection& connection,
                             google::protobuf::MessageLite* message,
                             SpinPolicy* policy, absl::Time deadline,
                             SpinGate* gate = nullptr);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_SPIN_RECEIVE_H_
