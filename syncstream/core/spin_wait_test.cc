#include "syncstream/core/spin_wait.h"

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace syncstream {
namespace {

constexpr absl::Duration kLimit = absl::Microseconds(50);

TEST(SpinPolicyTest, ZeroLimitNeverSpins) {
  SpinPolicy policy(absl::ZeroDuration());
  EXPECT_EQ(policy.NextSpin(), absl::ZeroDuration());
  policy.Record(absl::Microseconds(1), absl::ZeroDuration(), false);
  EXPECT_EQ(policy.NextSpin(), absl::ZeroDuration());
}

TEST(SpinPolicyTest, SpinsWhileWaitsAreShort) {
  SpinPolicy policy(kLimit);
  EXPECT_EQ(policy.NextSpin(), kLimit);
  policy.Record(absl::Microseconds(5), kLimit, /*spin_failed=*/false);
  EXPECT_EQ(policy.NextSpin(), kLimit);
}

TEST(SpinPolicyTest, StopsAfterLongWaitsAndResumesAfterShortOnes) {
  SpinPolicy policy(kLimit);
  policy.Record(absl::Seconds(10), absl::ZeroDuration(), false);  // idle
  EXPECT_EQ(policy.NextSpin(), absl::ZeroDuration());
  int short_waits = 0;
  while (policy.NextSpin() == absl::ZeroDuration()) {
    policy.Record(absl::Microseconds(5), absl::ZeroDuration(), false);
    ASSERT_LT(++short_waits, 20) << "never spins again";
  }
  EXPECT_GT(short_waits, 1);  // one long wait is not forgotten at once
}

TEST(SpinPolicyTest, FailedSpinsBackOffExponentially) {
  SpinPolicy policy(kLimit);
  // Each failed spin is followed by 2, 4, 8 waits that sleep at once.
  for (int skipped : {2, 4, 8}) {
    ASSERT_EQ(policy.NextSpin(), kLimit);
    policy.Record(absl::Microseconds(40), kLimit, /*spin_failed=*/true);
    for (int i = 0; i < skipped; ++i) {
      ASSERT_EQ(policy.NextSpin(), absl::ZeroDuration()) << i;
      policy.Record(absl::Microseconds(5), absl::ZeroDuration(), false);
    }
  }
  // A spin that works resets the back-off.
  ASSERT_EQ(policy.NextSpin(), kLimit);
  policy.Record(absl::Microseconds(5), kLimit, /*spin_failed=*/false);
  ASSERT_EQ(policy.NextSpin(), kLimit);
  policy.Record(absl::Microseconds(40), kLimit, /*spin_failed=*/true);
  EXPECT_EQ(policy.NextSpin(), absl::ZeroDuration());
  EXPECT_EQ(policy.NextSpin(), absl::ZeroDuration());
  EXPECT_EQ(policy.NextSpin(), kLimit);
}

TEST(SpinUntilTest, ReturnsTrueOnceReady) {
  int polls = 0;
  EXPECT_TRUE(SpinUntil(absl::Seconds(10), [&] { return ++polls == 100; }));
  EXPECT_EQ(polls, 100);
}

TEST(SpinUntilTest, ZeroSpinPollsOnce) {
  int polls = 0;
  EXPECT_FALSE(SpinUntil(absl::ZeroDuration(), [&] { return ++polls > 1; }));
  EXPECT_EQ(polls, 1);
}

TEST(SpinUntilTest, GivesUpWhenTheSpinIsOver) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(SpinUntil(absl::Microseconds(200), [] { return false; }));
  // It spun the whole 200 us, unless it was preempted first (on a busy
  // machine), which it then noted.
  EXPECT_TRUE(std::chrono::steady_clock::now() - start >=
                  std::chrono::microseconds(200) ||
              !MachineHasIdleCores());
}

// A gap between two polls (here a poll that takes a millisecond, as a
// preemption would) ends the spin at once and keeps the process from
// spinning for a while.
TEST(SpinUntilTest, APreemptedSpinnerStopsAndTheProcessStopsSpinning) {
  int polls = 0;
  EXPECT_FALSE(SpinUntil(absl::Seconds(10), [&] {
    if (++polls == 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return false;
  }));
  EXPECT_LE(polls, 16);  // stopped at the first clock read after the gap
  EXPECT_FALSE(MachineHasIdleCores());
  SpinGate gate(4);
  EXPECT_FALSE(gate.Enter());
}

TEST(SpinGateTest, BoundsConcurrentSpinners) {
  // Wait (bounded) for the quiet period after any preemption noted above.
  SpinGate gate(1);
  for (int i = 0; i < 100 && !MachineHasIdleCores(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!MachineHasIdleCores()) GTEST_SKIP() << "machine busy: gate stays shut";
  ASSERT_TRUE(gate.Enter());
  EXPECT_FALSE(gate.Enter());
  gate.Leave();
}

TEST(ParseRunnableThreadsTest, ReadsTheRunningCount) {
  EXPECT_EQ(ParseRunnableThreads("0.52 0.58 0.59 3/815 12345\n"), 3);
  EXPECT_EQ(ParseRunnableThreads("11.62 8.71 5.34 14/284 12810\n"), 14);
  EXPECT_EQ(ParseRunnableThreads(""), -1);
  EXPECT_EQ(ParseRunnableThreads("0.52 0.58 0.59"), -1);
  EXPECT_EQ(ParseRunnableThreads("0.52 0.58 0.59 x/815 1"), -1);
  EXPECT_EQ(ParseRunnableThreads("0.52 0.58 0.59 /815 1"), -1);
  EXPECT_EQ(ParseRunnableThreads("0.52 0.58 0.59 12345678901/815 1"), -1);
}

}  // namespace
}  // namespace syncstream
