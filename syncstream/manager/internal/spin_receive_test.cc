#include "syncstream/manager/internal/spin_receive.h"

#include "gtest/gtest.h"

namespace syncstream::manager::internal {
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

TEST(SpinGateTest, BoundsConcurrentSpinners) {
  SpinGate gate(1);
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
}  // namespace syncstream::manager::internal
