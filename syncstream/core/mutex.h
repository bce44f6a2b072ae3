// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with
// Clang thread-safety annotations, so that fields declared
// ABSL_GUARDED_BY(mu_) and methods declared ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_)
// are checked by `./bazelw build --config=tsa` (docs/concurrency.md).
//
//   Mutex mu_;
//   int count_ ABSL_GUARDED_BY(mu_) = 0;
//   CondVar changed_;
//
//   void Add() {
//     MutexLock lock(&mu_);
//     ++count_;
//     changed_.SignalAll();
//   }
//   bool WaitForSome(absl::Time deadline) {
//     MutexLock lock(&mu_);
//     return changed_.WaitUntilReady(&mu_, deadline,
//         [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ > 0; });
//   }
//
// Behaviour and cost are those of the std types they hold (one
// pthread_mutex_t, one pthread_cond_t), which ThreadSanitizer understands.
// Thread safety: every method may be called from any thread; a Mutex is not
// recursive and must be unlocked by the thread that locked it.
#ifndef SYNCSTREAM_CORE_MUTEX_H_
#define SYNCSTREAM_CORE_MUTEX_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace syncstream {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mutex_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mutex_.unlock(); }
  // Takes the mutex if it is free; never waits. True when taken.
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mutex_.try_lock(); }
  // Tells the analysis that the caller holds the mutex (where it cannot see
  // it, as in a callback run under the lock). Checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mutex_;
};

// Holds `mu` from construction to destruction.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable used with a Mutex. Every wait releases `mu` while it
// sleeps and holds it again when it returns; wake-ups may be spurious.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Waits until a notification (or a spurious wake-up).
  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mutex_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Waits until a notification or `deadline` (system clock);
  // absl::InfiniteFuture() is a plain Wait. False when the deadline passed.
  bool WaitUntil(Mutex* mu, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (deadline == absl::InfiniteFuture()) {
      Wait(mu);
      return true;
    }
    std::unique_lock<std::mutex> lock(mu->mutex_, std::adopt_lock);
    const std::cv_status status = cv_.wait_until(lock, absl::ToChronoTime(deadline));
    lock.release();
    return status == std::cv_status::no_timeout;
  }
  // Waits until a notification or for `timeout` (steady clock). False when
  // the time ran out.
  bool WaitFor(Mutex* mu, absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mutex_, std::adopt_lock);
    const std::cv_status status = cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout));
    lock.release();
    return status == std::cv_status::no_timeout;
  }
  // Waits until `ready()` or `deadline` (as WaitUntil). ready() runs with
  // `mu` held, first and after every wake-up; declare the lambda
  // ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) to read guarded fields. Returns its
  // last value: false only when the deadline passed with it false.
  template <typename Ready>
  bool WaitUntilReady(Mutex* mu, absl::Time deadline, Ready ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    while (!ready()) {
      if (!WaitUntil(mu, deadline)) return ready();
    }
    return true;
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_MUTEX_H_
