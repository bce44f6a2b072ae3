// ManagedObject: the server-side state of one shared object (a lock, a queue,
// a list, a user type, ...) and the context its methods run in.
//
// Every method runs under the object's own mutex. A method that must wait
// (acquire, get, wait) waits on the object's condition variable until its
// condition holds, its deadline passes, or its call is cancelled (the client
// disconnected or gave up on the call). On the connection's fast path a call
// may not block at all: it sets CallContext::would_block instead and the
// connection retries it on a thread that may wait.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_OBJECT_H_
#define SYNCSTREAM_MANAGER_INTERNAL_OBJECT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "syncstream/manager/internal/parking.h"
#include "syncstream/manager/internal/session.h"
#include "syncstream/manager/value.h"
#include "syncstream/core/deadline.h"

namespace syncstream::manager::internal {

// Keeps referenced objects alive while a container holds references to them
// (implemented by the Registry).
class ReferenceKeeper {
 public:
  virtual ~ReferenceKeeper() = default;
  // Takes one reference on every object `value` refers to; NotFound (and no
  // reference taken) when one of them does not exist.
  virtual absl::Status RefAll(const Value& value) = 0;
  // Drops the references RefAll took. Call without holding an object mutex.
  virtual void UnrefAll(const Value& value) = 0;
};

struct CallContext {
  Session* session = nullptr;  // never null
  uint64_t thread_id = 0;
  absl::Time deadline = absl::InfiniteFuture();
  // False on the connection's reading thread: a call that would wait sets
  // `would_block` instead and is retried with may_block = true.
  bool may_block = true;
  bool would_block = false;
  // Set when the client gave up on this call.
  const std::atomic<bool>* call_cancelled = nullptr;
  ReferenceKeeper* references = nullptr;
  // Fast path only: when set, a call that would wait is parked on its object
  // (see parking.h) and `parked` says so.
  struct ParkRequest {
    const std::shared_ptr<Session>* session = nullptr;
    const proto::Request* request = nullptr;
    const std::shared_ptr<ReplySink>* sink = nullptr;
    std::shared_ptr<ParkedCall> existing;  // a parked call being retried
  };
  const ParkRequest* park = nullptr;
  std::shared_ptr<ParkedCall> parked;
  // Values the call removed from an object: their references are dropped
  // after the reply took its own and the object's mutex is released.
  std::vector<Value> dropped;

  Owner owner() const { return Owner{session->id(), thread_id}; }
  bool cancelled() const {
    return session->closed() ||
           (call_cancelled != nullptr &&
            call_cancelled->load(std::memory_order_acquire));
  }
};

// What `syncstream manager ls` shows about an object.
struct ObjectInfo {
  std::vector<std::string> holders;  // "client 3 thread 7", "client 4 x2"
  int waiters = 0;
  std::string state;  // "locked", "value=2", "len=5", ...
};

// Fairness of locks and semaphores: a free object goes to whoever asks
// first (a client releasing and re-acquiring keeps it without a hand-off, as
// with Python's locks) until the oldest parked call has waited this long;
// then new calls queue behind the parked ones, which are served in order, so
// that no waiter starves.
constexpr absl::Duration kStarvationLimit = absl::Milliseconds(1);

class ManagedObject : public std::enable_shared_from_this<ManagedObject> {
 public:
  explicit ManagedObject(std::string type) : type_(std::move(type)) {}
  virtual ~ManagedObject() = default;
  ManagedObject(const ManagedObject&) = delete;
  ManagedObject& operator=(const ManagedObject&) = delete;

  const std::string& type() const { return type_; }
  // Set by the registry once, before the object is shared.
  void set_label(std::string label) { label_ = std::move(label); }
  // "lock #3" or "lock 'jobs'": used in error messages.
  const std::string& label() const { return label_; }

  // Runs `method`; unknown methods and bad arguments are InvalidArgument.
  virtual absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                                     std::vector<Value>& args) = 0;

  // Gives back everything `session` holds (locks, RLock counts, permits) and
  // wakes its waiters, which see their session closed and leave.
  virtual void ReleaseSession(uint64_t session) { WakeAll(); }

  // Wakes every waiter so that cancelled calls notice.
  void WakeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }

  // Parked calls (parking.h). has_parked() is a cheap check for callers
  // that just changed the object's state.
  bool has_parked() const {
    return parked_count_.load(std::memory_order_acquire) > 0;
  }
  // Removes and returns every parked call, oldest first.
  std::vector<std::shared_ptr<ParkedCall>> TakeParked();
  // Parks `call` again (at the back) without retrying it.
  void ParkAgain(std::shared_ptr<ParkedCall> call);
  // Removes `call` if it is parked here; false if it is not (any more).
  bool RemoveParked(const ParkedCall* call);
  // Removes the parked calls of `session` (with `request_id`, or all of
  // them for 0).
  std::vector<std::shared_ptr<ParkedCall>> RemoveParkedOf(uint64_t session,
                                                          uint64_t request_id);

  // The values this object holds, removed from it (the registry drops their
  // references when the object dies).
  virtual std::vector<Value> TakeContents() { return {}; }

  virtual ObjectInfo Describe() = 0;

 protected:
  // Waits until `ready()` (called with mu_ held). OK when ready; Cancelled
  // when the call was cancelled; DeadlineExceeded at `deadline`; when the
  // call may not block, sets ctx.would_block and returns Unavailable.
  template <typename Ready>
  absl::Status Await(CallContext& ctx, std::unique_lock<std::mutex>& lock,
                     absl::Time deadline, absl::string_view what,
                     Ready ready) {
    for (;;) {
      // Checked first: a cancelled call is never granted anything.
      if (ctx.cancelled()) {
        return absl::CancelledError(
            absl::StrCat(label_, ": ", what, " cancelled (client gone)"));
      }
      if (ready()) return absl::OkStatus();
      if (deadline != absl::InfiniteFuture() && ::syncstream::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(label_, ": ", what, " timed out"));
      }
      if (!ctx.may_block) {
        ctx.would_block = true;
        if (ctx.park != nullptr) Park(ctx);
        return absl::UnavailableError("would block");
      }
      ++waiting_;
      WaitOnce(cv_, lock, deadline);  // the loop looks at the deadline
      --waiting_;
    }
  }
  template <typename Ready>
  absl::Status Await(CallContext& ctx, std::unique_lock<std::mutex>& lock,
                     absl::string_view what, Ready ready) {
    return Await(ctx, lock, ctx.deadline, what, ready);
  }

  // Whether a new call arriving on a connection must queue behind the calls
  // parked here (with mu_ held); see kStarvationLimit.
  bool QueueBehindParked(const CallContext& ctx) const {
    return ctx.park != nullptr && ctx.park->existing == nullptr &&
           !parked_.empty() &&
           ::syncstream::Now() - parked_.front()->parked_at > kStarvationLimit;
  }

  absl::Status BadMethod(absl::string_view method) const {
    return absl::InvalidArgumentError(
        absl::StrCat(label_, ": no method '", method, "'"));
  }
  // Waiting calls: on the condition variable, and parked.
  int waiters() const { return waiting_ + static_cast<int>(parked_.size()); }

  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;  // guarded by mu_

 private:
  // With mu_ held: parks the call of `ctx` (a new ParkedCall, or the one
  // being retried) and records it in ctx.parked.
  void Park(CallContext& ctx);

  std::deque<std::shared_ptr<ParkedCall>> parked_;  // guarded by mu_
  std::atomic<int> parked_count_{0};
  const std::string type_;
  std::string label_;
};

// "client 3 thread 7".
std::string OwnerName(const Owner& owner);

// Returns an error unless args.size() is within [min, max].
absl::Status CheckArgs(const ManagedObject& object, absl::string_view method,
                       const std::vector<Value>& args, size_t min, size_t max);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_OBJECT_H_
