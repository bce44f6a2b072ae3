#include "syncstream/manager/internal/sync_objects.h"

#include <algorithm>
#include <limits>
#include <list>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/manager/method_names.h"

namespace syncstream::manager::internal {
namespace {

class LockObject : public ManagedObject {
 public:
  LockObject() : ManagedObject("lock") {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (method == methods::kAcquire) {
      const bool queue = QueueBehindParked(ctx);
      absl::Status s = Await(ctx, lock, "acquire",
                             [&] { return !holder_.valid() && !queue; });
      if (!s.ok()) return s;
      holder_ = ctx.owner();
      return Value();
    }
    if (method == methods::kRelease) {
      if (!holder_.valid()) {
        return absl::FailedPreconditionError(
            absl::StrCat(label(), ": release of an unlocked lock"));
      }
      holder_ = Owner();
      if (waiting_ > 0) cv_.notify_all();
      return Value();
    }
    if (method == methods::kLocked) return Value(holder_.valid());
    return BadMethod(method);
  }

  void ReleaseSession(uint64_t session) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (holder_.session == session) holder_ = Owner();
    cv_.notify_all();
  }

  ObjectInfo Describe() override {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectInfo info;
    if (holder_.valid()) info.holders.push_back(OwnerName(holder_));
    info.waiters = waiters();
    info.state = holder_.valid() ? "locked" : "unlocked";
    return info;
  }

 private:
  Owner holder_;
};

// An RLock's state, also the lock of a Condition: the owner (client and
// thread) and its recursion count. The helpers run with mu_ held.
class ReentrantLockObject : public ManagedObject {
 public:
  ObjectInfo Describe() override {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectInfo info;
    if (owner_.valid()) {
      info.holders.push_back(absl::StrCat(OwnerName(owner_), " x", count_));
    }
    info.waiters = waiters();
    info.state = owner_.valid() ? "locked" : "unlocked";
    DescribeMore(info);
    return info;
  }

 protected:
  using ManagedObject::ManagedObject;

  // Takes the lock for the caller once more (waiting while another owner
  // holds it). A call that is not `parkable` waits on a worker thread.
  absl::StatusOr<Value> AcquireOwned(CallContext& ctx,
                                     std::unique_lock<std::mutex>& lock,
                                     bool parkable) {
    const Owner me = ctx.owner();
    if (owner_ == me) {
      ++count_;
      return Value();
    }
    const CallContext::ParkRequest* const park = ctx.park;
    if (!parkable) ctx.park = nullptr;
    const bool queue = QueueBehindParked(ctx);
    absl::Status s = Await(ctx, lock, "acquire",
                           [&] { return !owner_.valid() && !queue; });
    ctx.park = park;
    if (!s.ok()) return s;
    owner_ = me;
    count_ = 1;
    return Value();
  }

  // Gives one level back; the last one frees the lock.
  absl::StatusOr<Value> ReleaseOwned(const CallContext& ctx) {
    const Owner me = ctx.owner();
    if (owner_ != me) return NotOwner("release", me);
    if (--count_ == 0) {
      owner_ = Owner();
      if (waiting_ > 0) cv_.notify_all();
    }
    return Value();
  }

  // The lock is no longer held by `session` (gone).
  void DropOwner(uint64_t session) {
    if (owner_.session == session) {
      owner_ = Owner();
      count_ = 0;
    }
  }

  absl::Status NotOwner(absl::string_view method, const Owner& me) const {
    return absl::FailedPreconditionError(
        absl::StrCat(label(), ": ", method, " by ", OwnerName(me),
                     ", which does not hold the lock"));
  }

  // Adds to what Describe shows (with mu_ held).
  virtual void DescribeMore(ObjectInfo& info) {}

  Owner owner_;
  int64_t count_ = 0;
};

class RLockObject : public ReentrantLockObject {
 public:
  RLockObject() : ReentrantLockObject("rlock") {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (method == methods::kAcquire) return AcquireOwned(ctx, lock, /*parkable=*/true);
    if (method == methods::kRelease) return ReleaseOwned(ctx);
    return BadMethod(method);
  }

  void ReleaseSession(uint64_t session) override {
    std::lock_guard<std::mutex> lock(mu_);
    DropOwner(session);
    cv_.notify_all();
  }
};

class SemaphoreObject : public ManagedObject {
 public:
  SemaphoreObject(int64_t value, bool bounded)
      : ManagedObject(bounded ? "bounded_semaphore" : "semaphore"),
        value_(value),
        initial_(value),
        bounded_(bounded) {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (method == methods::kAcquire) {
      const bool queue = QueueBehindParked(ctx);
      absl::Status s = Await(ctx, lock, "acquire",
                             [&] { return value_ > 0 && !queue; });
      if (!s.ok()) return s;
      --value_;
      ++held_[ctx.session->id()];
      return Value();
    }
    if (method == methods::kRelease) {
      int64_t n = 1;
      if (!args.empty()) {
        absl::StatusOr<int64_t> got = args[0].GetInt(label() + ": release n");
        if (!got.ok()) return got.status();
        n = *got;
        if (n < 1) {
          return absl::InvalidArgumentError(
              absl::StrCat(label(), ": release n must be >= 1, got ", n));
        }
      }
      if (n > std::numeric_limits<int64_t>::max() - value_) {
        return absl::InvalidArgumentError(
            absl::StrCat(label(), ": release by ", n, " overflows"));
      }
      if (bounded_ && value_ + n > initial_) {
        return absl::FailedPreconditionError(absl::StrCat(
            label(), ": released too many times (value ", value_, " of ",
            initial_, ")"));
      }
      for (int64_t i = 0; i < n && !held_.empty(); ++i) {
        SettleOne(ctx.session->id());
      }
      value_ += n;
      if (waiting_ > 0) cv_.notify_all();
      return Value();
    }
    if (method == methods::kValue) return Value(value_);
    return BadMethod(method);
  }

  void ReleaseSession(uint64_t session) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = held_.find(session);
    if (it != held_.end()) {
      value_ += it->second;
      held_.erase(it);
    }
    cv_.notify_all();
  }

  ObjectInfo Describe() override {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectInfo info;
    for (const auto& [session, count] : held_) {
      info.holders.push_back(absl::StrCat("client ", session, " x", count));
    }
    info.waiters = waiters();
    info.state = absl::StrCat("value=", value_);
    return info;
  }

 private:
  // A release settles one outstanding acquisition: the releaser's own if it
  // has one, else the longest-standing holder's (smallest session id).
  void SettleOne(uint64_t releaser) {
    auto it = held_.find(releaser);
    if (it == held_.end()) it = held_.begin();
    if (it == held_.end()) return;
    if (--it->second == 0) held_.erase(it);
  }

  int64_t value_;
  const int64_t initial_;
  const bool bounded_;
  std::map<uint64_t, int64_t> held_;  // session -> outstanding acquisitions
};

class EventObject : public ManagedObject {
 public:
  EventObject() : ManagedObject("event") {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (method == methods::kSet) {
      flag_ = true;
      if (waiting_ > 0) cv_.notify_all();
      return Value();
    }
    if (method == methods::kClear) {
      flag_ = false;
      return Value();
    }
    if (method == methods::kIsSet) return Value(flag_);
    if (method == methods::kWait) {
      absl::Status s = Await(ctx, lock, "wait", [&] { return flag_; });
      if (!s.ok()) return s;
      return Value(true);
    }
    return BadMethod(method);
  }

  ObjectInfo Describe() override {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectInfo info;
    info.waiters = waiters();
    info.state = flag_ ? "set" : "clear";
    return info;
  }

 private:
  bool flag_ = false;
};

// A Condition: a reentrant lock plus wait and notify.
class ConditionObject : public ReentrantLockObject {
 public:
  ConditionObject() : ReentrantLockObject("condition") {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    std::unique_lock<std::mutex> lock(mu_);
    const Owner me = ctx.owner();
    // Not parked: a wait frees the lock on a worker thread, where no parked
    // call would be retried; a waiting acquire is woken there directly.
    if (method == methods::kAcquire) return AcquireOwned(ctx, lock, /*parkable=*/false);
    if (method == methods::kRelease) return ReleaseOwned(ctx);
    if (method == methods::kNotify || method == methods::kNotifyAll) {
      if (owner_ != me) return NotOwner(method, me);
      int64_t n = 1;
      if (method == methods::kNotifyAll) {
        n = static_cast<int64_t>(waiters_.size());
      } else if (!args.empty()) {
        absl::StatusOr<int64_t> got = args[0].GetInt(label() + ": notify n");
        if (!got.ok()) return got.status();
        n = *got;
      }
      for (; n > 0 && !waiters_.empty(); --n) {
        waiters_.front()->notified = true;
        waiters_.pop_front();
      }
      cv_.notify_all();
      return Value();
    }
    if (method == methods::kWait) {
      if (owner_ != me) return NotOwner("wait", me);
      if (!ctx.may_block && ctx.deadline > ::syncstream::Now()) {
        ctx.would_block = true;
        return absl::UnavailableError("would block");
      }
      return Wait(ctx, lock);
    }
    return BadMethod(method);
  }

  void ReleaseSession(uint64_t session) override {
    std::lock_guard<std::mutex> lock(mu_);
    DropOwner(session);
    waiters_.remove_if(
        [session](const Waiter* w) { return w->owner.session == session; });
    cv_.notify_all();
  }

 protected:
  void DescribeMore(ObjectInfo& info) override {
    absl::StrAppend(&info.state, ", ", waiters_.size(), " waiting for notify");
  }

 private:
  struct Waiter {
    Owner owner;
    bool notified = false;
  };

  // Releases the lock completely, waits for a notify, and takes the lock back
  // with its recursion count (also after a timeout). A cancelled call does
  // not take it back: its client is gone or gave up.
  absl::StatusOr<Value> Wait(CallContext& ctx,
                             std::unique_lock<std::mutex>& lock) {
    const int64_t saved = count_;
    owner_ = Owner();
    count_ = 0;
    Waiter self{ctx.owner()};
    waiters_.push_back(&self);
    cv_.notify_all();  // lock waiters may take the lock now
    absl::Status waited =
        Await(ctx, lock, "wait", [&] { return self.notified; });
    if (!self.notified) waiters_.remove(&self);
    if (absl::IsCancelled(waited)) return waited;
    absl::Status relocked = Await(ctx, lock, absl::InfiniteFuture(),
                                  "wait (retaking the lock)",
                                  [&] { return !owner_.valid(); });
    if (!relocked.ok()) return relocked;
    owner_ = ctx.owner();
    count_ = saved;
    if (!waited.ok()) return waited;
    return Value(true);
  }

  std::list<Waiter*> waiters_;  // waiting for a notify, oldest first
};

class BarrierObject : public ManagedObject {
 public:
  explicit BarrierObject(int64_t parties)
      : ManagedObject("barrier"), parties_(parties) {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (method == methods::kWait) return Wait(ctx, lock);
    if (method == methods::kAbort) {
      broken_ = true;
      cv_.notify_all();
      return Value();
    }
    if (method == methods::kReset) {
      if (count_ > 0) reset_generation_ = generation_;
      ++generation_;
      count_ = 0;
      broken_ = false;
      cv_.notify_all();
      return Value();
    }
    if (method == methods::kParties) return Value(parties_);
    if (method == methods::kNWaiting) return Value(count_);
    if (method == methods::kBroken) return Value(broken_);
    return BadMethod(method);
  }

  ObjectInfo Describe() override {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectInfo info;
    info.waiters = waiters();
    info.state = absl::StrCat(count_, " of ", parties_, " waiting",
                              broken_ ? ", broken" : "");
    return info;
  }

 private:
  absl::Status Broken() const {
    return absl::FailedPreconditionError(absl::StrCat(label(), ": broken"));
  }

  // Returns the arrival index (0 .. parties-1), as Python's Barrier.wait.
  absl::StatusOr<Value> Wait(CallContext& ctx,
                             std::unique_lock<std::mutex>& lock) {
    if (broken_) return Broken();
    if (count_ + 1 < parties_ && !ctx.may_block &&
        ctx.deadline > ::syncstream::Now()) {
      ctx.would_block = true;
      return absl::UnavailableError("would block");
    }
    const int64_t index = count_++;
    if (count_ == parties_) {
      ++generation_;
      count_ = 0;
      cv_.notify_all();
      return Value(index);
    }
    const uint64_t generation = generation_;
    absl::Status s = Await(ctx, lock, "wait", [&] {
      return generation_ != generation || broken_;
    });
    if (generation_ != generation) {
      if (reset_generation_ == generation) {
        return absl::FailedPreconditionError(
            absl::StrCat(label(), ": reset while waiting"));
      }
      return Value(index);  // the round completed
    }
    --count_;
    if (broken_) return Broken();
    if (absl::IsDeadlineExceeded(s)) {  // as Python: a timeout breaks it
      broken_ = true;
      cv_.notify_all();
    }
    return s;
  }

  const int64_t parties_;
  int64_t count_ = 0;
  uint64_t generation_ = 0;
  uint64_t reset_generation_ = ~uint64_t{0};
  bool broken_ = false;
};

}  // namespace

std::shared_ptr<ManagedObject> NewLock() {
  return std::make_shared<LockObject>();
}
std::shared_ptr<ManagedObject> NewRLock() {
  return std::make_shared<RLockObject>();
}
std::shared_ptr<ManagedObject> NewSemaphore(int64_t value, bool bounded) {
  return std::make_shared<SemaphoreObject>(value, bounded);
}
std::shared_ptr<ManagedObject> NewEvent() {
  return std::make_shared<EventObject>();
}
std::shared_ptr<ManagedObject> NewCondition() {
  return std::make_shared<ConditionObject>();
}
std::shared_ptr<ManagedObject> NewBarrier(int64_t parties) {
  return std::make_shared<BarrierObject>(parties);
}

}  // namespace syncstream::manager::internal
