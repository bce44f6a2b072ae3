#include "syncstream/core/deadline.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace syncstream {
namespace {

// A flag behind a mutex, and how often a waiter looked at it.
struct Flag {
  std::mutex mu;
  std::condition_variable cv;
  bool set = false;
  int looks = 0;

  // Sets the flag once a waiter has looked at it at least once (so it is
  // waiting, or about to, with the mutex released only inside the wait).
  void SetOnceWaiting() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mu);
      if (looks > 0) {
        set = true;
        cv.notify_all();
        return;
      }
      lock.unlock();
      std::this_thread::yield();
    }
  }
};

TEST(WaitUntilReadyTest, ReadyAtOnceDoesNotWait) {
  Flag f;
  f.set = true;
  std::unique_lock<std::mutex> lock(f.mu);
  // A deadline already past: still true, since the condition holds.
  EXPECT_TRUE(WaitUntilReady(f.cv, lock, Now() - absl::Seconds(1), [&] { return f.set; }));
}

TEST(WaitUntilReadyTest, ReturnsFalseOnlyOnceTheDeadlinePassed) {
  Flag f;
  std::unique_lock<std::mutex> lock(f.mu);
  const absl::Time deadline = Now() + absl::Milliseconds(30);
  EXPECT_FALSE(WaitUntilReady(f.cv, lock, deadline, [&] { return f.set; }));
  EXPECT_GE(Now(), deadline);
}

// No deadline: the waiter sleeps until the condition holds.
TEST(WaitUntilReadyTest, InfiniteDeadlineWaitsForTheCondition) {
  Flag f;
  bool result = false;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(f.mu);
    result = WaitUntilReady(f.cv, lock, absl::InfiniteFuture(), [&] {
      ++f.looks;
      return f.set;
    });
  });
  f.SetOnceWaiting();
  waiter.join();
  EXPECT_TRUE(result);
  // Woken by the notification, not by spinning: a waiter that returned from
  // every wait at once would have looked far more often before the set.
  EXPECT_LE(f.looks, 3);
}

TEST(WaitUntilReadyTest, FiniteDeadlineWokenByTheCondition) {
  Flag f;
  bool result = false;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(f.mu);
    result = WaitUntilReady(f.cv, lock, Now() + absl::Hours(1), [&] {
      ++f.looks;
      return f.set;
    });
  });
  f.SetOnceWaiting();
  waiter.join();
  EXPECT_TRUE(result);
}

TEST(WaitOnceTest, SaysWhetherTheDeadlinePassed) {
  Flag f;
  std::unique_lock<std::mutex> lock(f.mu);
  EXPECT_FALSE(WaitOnce(f.cv, lock, Now() + absl::Milliseconds(5)));
  std::condition_variable_any any;  // the other kind of condition variable
  EXPECT_FALSE(WaitOnce(any, lock, Now() + absl::Milliseconds(5)));
}

}  // namespace
}  // namespace syncstream
