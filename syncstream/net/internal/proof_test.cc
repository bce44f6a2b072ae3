// The handshake's nonces: fresh, and drawable in a child forked while other
// threads of the parent draw them (a collector or manager handshaking).
#include "syncstream/net/internal/proof.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "syncstream/core/child_process.h"

namespace syncstream::net::internal {
namespace {

TEST(RandomNonceTest, DrawsFreshNoncesOfTheirSize) {
  absl::StatusOr<std::string> a = RandomNonce();
  absl::StatusOr<std::string> b = RandomNonce();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->size(), kNonceBytes);
  EXPECT_NE(*a, *b);
}

// Two threads draw nonces without pause while the main thread forks
// children that each draw one and exit. A generator with a user-space lock
// (OpenSSL's RAND_bytes) is often copied locked into such a child, which
// then never returns: with it, this test times out in most runs.
TEST(RandomNonceTest, ChildForkedWhileThreadsDrawGetsItsNonce) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> drawers;
  for (int i = 0; i < 2; ++i) {
    drawers.emplace_back([&stop] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (!RandomNonce().ok()) return;
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<ChildProcess> child = ChildProcess::Fork([] {
      absl::StatusOr<std::string> nonce = RandomNonce();
      return nonce.ok() && nonce->size() == kNonceBytes ? 0 : 1;
    });
    ASSERT_TRUE(child.ok()) << child.status();
    absl::StatusOr<ExitStatus> status = child->Wait(absl::Seconds(10));
    ASSERT_TRUE(status.ok()) << "child " << i << ": " << status.status();
    ASSERT_TRUE(status->exited && status->code == 0)
        << "child " << i << ": " << status->ToString();
  }
  stop = true;
  for (std::thread& t : drawers) t.join();
}

}  // namespace
}  // namespace syncstream::net::internal
