// Receiving a request or reply with adaptive busy-polling.
//
// A manager call is a round trip whose cost is mostly two wake-ups: the
// server thread sleeping in poll() until the request arrives, the client
// sleeping until the reply does. When the other side answers within a few
// microseconds (an uncontended acquire, a dict get, a client's next call),
// spinning on non-blocking receives for that long instead of sleeping saves
// both the scheduler's round trip and the wake-up latency.
//
// Spinning only pays when the answer comes quickly and the other side has a
// core to answer on, so a SpinPolicy learns both:
// - how long this side's waits usually last (a moving average of each wait,
//   spun or slept): it spins only while that average is below its limit, so
//   a client waiting on a contended lock, or an idle connection, sleeps
//   right away, and spins again once its waits are short again;
// - whether spinning works: a spin that ends without a frame (the machine
//   is busy, the peer waits for a core) stops spinning for the next 2, 4,
//   ... 1024 waits; a spin that gets its frame resets that.
// While it spins, the thread yields its core after each empty read, so that
// a peer waiting for that core (or any other thread) runs first.
//
// And nobody spins on a busy machine: spinning only pays when the peer has
// a core of its own, so a SpinGate lets threads spin only while the
// machine's runnable threads (the "running" count of /proc/loadavg, read at
// most every 5 ms) are no more than its cores.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_SPIN_RECEIVE_H_
#define SYNCSTREAM_MANAGER_INTERNAL_SPIN_RECEIVE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"
#include "syncstream/net/connection.h"

namespace syncstream::manager::internal {

// How long a blocking receive sleeps in recv() at a time (connections of
// the manager and its clients use Connection::EnableBlockingReceives).
inline constexpr absl::Duration kBlockingReceiveSlice = absl::Seconds(1);

// Not thread-safe: one per waiting thread (or guarded by the caller).
class SpinPolicy {
 public:
  // Spins at most `limit` per wait; ZeroDuration() never spins.
  explicit SpinPolicy(absl::Duration limit);

  // How long the next wait may spin before it sleeps (a wait that asked
  // must then call Record).
  absl::Duration NextSpin();
  // The wait lasted `waited` (from its start to the frame's arrival); it
  // spun for `spin` (what NextSpin said) and `spin_failed` when the frame
  // did not come while it spun.
  void Record(absl::Duration waited, absl::Duration spin, bool spin_failed);

 private:
  const int64_t limit_ns_;
  int64_t average_ns_ = 0;  // of recent waits; weight 1/4 for the newest
  int backoff_level_ = 0;   // failed spins in a row (capped)
  int64_t skip_ = 0;        // waits left to sleep without spinning
};

// Lets a thread spin only while the machine has a core to spare (see
// above), and bounds how many threads of a process spin at the same time,
// so that a server with many busy connections does not spin on every core
// and starve the clients it waits for (which then run on the cores left).
// Thread-safe.
class SpinGate {
 public:
  explicit SpinGate(int max_spinners) : max_(max_spinners) {}
  // May one more thread spin now? If true, call Leave() after spinning.
  bool Enter();
  void Leave() { spinners_.fetch_sub(1, std::memory_order_relaxed); }
  // Half the machine's cores, at least one.
  static int DefaultMax();
  // The gate of a process's client connections.
  static SpinGate& ForClients();

 private:
  const int max_;
  std::atomic<int> spinners_{0};
};

// Whether the machine's runnable threads are no more than its cores (false
// when /proc/loadavg cannot be read). Re-read at most every 5 ms.
bool MachineHasIdleCores();

// The runnable threads in the text of /proc/loadavg ("R" of its "R/T"
// field: "0.52 0.58 0.59 3/815 12345" -> 3); -1 if it does not parse.
int ParseRunnableThreads(absl::string_view loadavg);

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
