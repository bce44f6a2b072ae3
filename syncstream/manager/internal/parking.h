// Parked calls: a call that has to wait (a contended acquire, a get from an
// empty queue) is parked on its object instead of occupying a thread. The
// call that changes the object's state retries the parked calls on its own
// thread and sends the replies of those that complete straight to their
// clients: a waiting client is answered by the thread that released what it
// waited for, with no thread in between to wake.
//
// Only calls that can be retried from scratch are parked (ManagedObject::Await
// parks them, under the object's mutex, so no state change can slip between
// the failed attempt and the parking). Others still wait on a worker thread.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_PARKING_H_
#define SYNCSTREAM_MANAGER_INTERNAL_PARKING_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <map>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "syncstream/manager/internal/session.h"
#include "syncstream/manager/manager.pb.h"

namespace syncstream::manager::internal {

class ManagedObject;

// Where the reply of a parked call goes (its client's connection).
class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // Sends `response` to `request` (nothing for a posted call that
  // succeeded). Any thread; must not block for long.
  virtual void Reply(const proto::Request& request,
                     proto::Response& response) = 0;
};

struct ParkedCall;
using TimerEntries = std::multimap<absl::Time, std::weak_ptr<ParkedCall>>;

struct ParkedCall {
  std::shared_ptr<Session> session;
  proto::Request request;
  absl::Time deadline;
  absl::Time parked_at;  // when it was first parked
  std::shared_ptr<ReplySink> sink;
  std::weak_ptr<ManagedObject> object;
  // The call's entry in the ParkingTimer (guarded by the timer's mutex).
  TimerEntries::iterator timer_entry;
  bool timed = false;
};

// Expires parked calls at their deadlines (one thread for the manager).
class ParkingTimer {
 public:
  // `expire(call)` runs on the timer's thread for each call whose deadline
  // passed (it may have left its object already).
  explicit ParkingTimer(
      std::function<void(const std::shared_ptr<ParkedCall>&)> expire);
  ~ParkingTimer();  // stops the thread
  ParkingTimer(const ParkingTimer&) = delete;
  ParkingTimer& operator=(const ParkingTimer&) = delete;

  // Watches `call` (a no-op if it has no deadline or is watched already).
  void Add(const std::shared_ptr<ParkedCall>& call);
  // Stops watching `call` (answered or gone).
  void Remove(ParkedCall* call);

 private:
  void Run();

  const std::function<void(const std::shared_ptr<ParkedCall>&)> expire_;
  std::mutex mu_;
  std::condition_variable cv_;
  TimerEntries entries_;
  // When the thread wakes up next (InfiniteFuture: only when notified).
  // Entries removed early leave it as it is: the thread then wakes once for
  // nothing, which is cheaper than a notification per removal.
  absl::Time wake_at_ = absl::InfiniteFuture();
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_PARKING_H_
