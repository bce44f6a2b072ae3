#include "syncstream/core/internal/biased_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "syncstream/core/internal/thread_biased_lock.h"

namespace syncstream {
namespace internal {
namespace {

// A counter with no synchronization of its own: only the lock keeps the
// read-increment-write sequences of the owner and the others apart. Both
// sides also check that nobody else is inside at the same time.
template <typename Lock>
struct SharedCounter {
  explicit SharedCounter(uint32_t revoke_after = 0) : lock(revoke_after) {}
  Lock lock;
  uint64_t count = 0;
  std::atomic<int> inside{0};
};
using Shared = SharedCounter<BiasedLock>;

template <typename Lock>
void Increment(SharedCounter<Lock>& shared, std::atomic<int>& overlaps) {
  if (shared.inside.fetch_add(1) != 0) overlaps.fetch_add(1);
  uint64_t value = shared.count;
  shared.count = value + 1;
  shared.inside.fetch_sub(1);
}

// Joins the owner and the others, then checks that no two of their entries
// overlapped and that `count` saw every increment.
void JoinAndExpect(std::thread& owner, std::vector<std::thread>& others,
                   const std::atomic<int>& overlaps, const uint64_t& count,
                   uint64_t expected) {
  owner.join();
  for (std::thread& other : others) other.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(count, expected);
}

// Owner and others on one lock, with revocation after `revoke_after`
// entries of others (0: never); others also try the lock now and then.
void ExpectExclusion(uint32_t revoke_after) {
  constexpr uint64_t kOwnerRounds = 2000000;
  constexpr uint64_t kOtherRounds = 2000;
  constexpr int kOthers = 3;
  Shared shared(revoke_after);
  std::atomic<int> overlaps{0};
  std::thread owner([&] {
    for (uint64_t i = 0; i < kOwnerRounds; ++i) {
      BiasedLock::OwnerGuard guard(shared.lock);
      Increment(shared, overlaps);
    }
  });
  std::vector<std::thread> others;
  for (int t = 0; t < kOthers; ++t) {
    others.emplace_back([&] {
      for (uint64_t i = 0; i < kOtherRounds; ++i) {
        if (i % 4 == 0) {
          // A failed try still counts the round: it retries until it gets in.
          while (!shared.lock.TryLockAsOther()) std::this_thread::yield();
          Increment(shared, overlaps);
          shared.lock.UnlockAsOther();
          continue;
        }
        BiasedLock::OtherGuard guard(shared.lock);
        Increment(shared, overlaps);
      }
    });
  }
  JoinAndExpect(owner, others, overlaps, shared.count, kOwnerRounds + kOthers * kOtherRounds);
}

TEST(BiasedLockTest, OwnerAndOthersExcludeEachOther) { ExpectExclusion(0); }

// Revoked early on: the owner takes the spin lock for most of the run.
TEST(BiasedLockTest, OwnerAndOthersExcludeEachOtherAfterRevocation) {
  ExpectExclusion(8);
}

TEST(BiasedLockTest, OwnerSideMayPassBetweenThreads) {
  Shared shared;
  std::atomic<int> overlaps{0};
  for (int round = 0; round < 4; ++round) {
    std::thread owner([&] {
      for (int i = 0; i < 1000; ++i) {
        BiasedLock::OwnerGuard guard(shared.lock);
        Increment(shared, overlaps);
      }
    });
    owner.join();  // hands the owner side to the next thread
  }
  BiasedLock::OtherGuard guard(shared.lock);
  EXPECT_EQ(shared.count, 4000u);
  EXPECT_EQ(overlaps.load(), 0);
}

// A forked child starts without the parent's membarrier registration; the
// others' side must register again rather than fail.
TEST(BiasedLockTest, WorksInAForkedChild) {
  Shared shared;
  {
    BiasedLock::OtherGuard guard(shared.lock);  // registers in the parent
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::atomic<int> overlaps{0};
    std::thread owner([&] {
      for (int i = 0; i < 100000; ++i) {
        BiasedLock::OwnerGuard guard(shared.lock);
        Increment(shared, overlaps);
      }
    });
    for (int i = 0; i < 100; ++i) {
      BiasedLock::OtherGuard guard(shared.lock);
      Increment(shared, overlaps);
    }
    owner.join();
    _exit(shared.count == 100100 && overlaps.load() == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// ThreadBiasedLock: every thread takes the same Guard; only the named
// owner's takes the owner side. With `revoke_after` entries of others the
// lock turns into a spin lock for all midway (0: never).
void ExpectThreadGuardsExclude(uint32_t revoke_after) {
  constexpr uint64_t kOwnerRounds = 1000000;
  constexpr uint64_t kOtherRounds = 2000;
  constexpr int kOthers = 3;
  SharedCounter<ThreadBiasedLock> shared(revoke_after);
  std::atomic<int> overlaps{0};
  std::atomic<bool> named{false};
  std::thread owner([&] {
    shared.lock.SetOwnerToThisThread();  // before any other thread uses it
    named.store(true);
    for (uint64_t i = 0; i < kOwnerRounds; ++i) {
      ThreadBiasedLock::Guard guard(shared.lock);
      Increment(shared, overlaps);
    }
  });
  while (!named.load()) std::this_thread::yield();
  std::vector<std::thread> others;
  for (int t = 0; t < kOthers; ++t) {
    others.emplace_back([&] {
      for (uint64_t i = 0; i < kOtherRounds; ++i) {
        ThreadBiasedLock::Guard guard(shared.lock);
        Increment(shared, overlaps);
      }
    });
  }
  JoinAndExpect(owner, others, overlaps, shared.count, kOwnerRounds + kOthers * kOtherRounds);
}

TEST(ThreadBiasedLockTest, GuardsOfOwnerAndOtherThreadsExclude) {
  ExpectThreadGuardsExclude(0);
}

TEST(ThreadBiasedLockTest, GuardsExcludeAfterRevocation) {
  ExpectThreadGuardsExclude(64);
}

}  // namespace
}  // namespace internal
}  // namespace syncstream
