#include "syncstream/core/futex.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "syncstream/core/deadline.h"

namespace syncstream {
namespace {

TEST(FutexTest, WaitReturnsAtOnceWhenTheValueDiffers) {
  std::atomic<uint32_t> word{5};
  EXPECT_EQ(FutexWait(&word, 4, absl::Seconds(10)), FutexWaitResult::kValueChanged);
}

TEST(FutexTest, WaitHonoursItsTimeout) {
  std::atomic<uint32_t> word{5};
  const absl::Time start = ::syncstream::Now();
  EXPECT_EQ(FutexWait(&word, 5, absl::Milliseconds(30)), FutexWaitResult::kTimedOut);
  EXPECT_GE(::syncstream::Now() - start, absl::Milliseconds(29));
  EXPECT_EQ(FutexWait(&word, 5, absl::ZeroDuration()), FutexWaitResult::kTimedOut);
}

TEST(EventWordTest, NotifyWithoutSleepersChangesNothing) {
  std::atomic<uint32_t> word{0};
  EventWord event(&word);
  event.Notify();
  EXPECT_EQ(word.load(), 0u);
  EXPECT_FALSE(event.HasSleepers());
}

TEST(EventWordTest, NotifyWakesASleeperAndClearsTheBit) {
  std::atomic<uint32_t> word{0};
  std::atomic<bool> ready{false};
  EventWord event(&word);
  std::thread sleeper([&] {
    for (;;) {
      const uint32_t e = event.Prepare();
      if (ready.load()) return;
      event.Wait(e, absl::Seconds(30));
    }
  });
  // Whether the notifier runs before or after the sleeper announced itself,
  // the sleeper must return well before its 30 s timeout.
  const absl::Time start = ::syncstream::Now();
  ready.store(true);
  event.Notify();
  sleeper.join();
  EXPECT_LT(::syncstream::Now() - start, absl::Seconds(10));
}

TEST(EventWordTest, PrepareSetsTheSleeperBitAndNotifyBumpsTheEpoch) {
  std::atomic<uint32_t> word{0};
  EventWord event(&word);
  const uint32_t e = event.Prepare();
  EXPECT_EQ(e, 1u);
  EXPECT_TRUE(event.HasSleepers());
  event.Notify();
  EXPECT_EQ(word.load(), 2u);
  EXPECT_EQ(event.Wait(e, absl::Seconds(10)), FutexWaitResult::kValueChanged);
}

}  // namespace
}  // namespace syncstream
