#include "syncstream/core/sharded_record_store.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncstream/core/deadline.h"

namespace syncstream {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Record Line(const std::string& sender, uint64_t sequence,
            const std::string& text) {
  Record r;
  r.kind = RecordKind::kLine;
  r.sender = sender;
  r.sequence = sequence;
  r.text = text;
  return r;
}

std::unique_ptr<ShardedRecordStore> MakeStore(size_t capacity) {
  auto store = ShardedRecordStore::Create(capacity);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

std::vector<std::string> Texts(const std::vector<Record>& records) {
  std::vector<std::string> texts;
  for (const Record& r : records) texts.push_back(r.text);
  return texts;
}

// Runs `body(turn)` for turn = 0 .. turns-1, turn t on thread t % threads,
// each turn starting only after the previous one returned: a causal chain
// across threads whose order every read must keep.
void RunInTurns(int threads, int turns, const std::function<void(int)>& body) {
  std::mutex mutex;
  std::condition_variable turn_done;
  int next_turn = 0;
  bool timed_out = false;
  const absl::Time deadline = DeadlineAfter(absl::Seconds(60));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int turn = t; turn < turns; turn += threads) {
        std::unique_lock<std::mutex> lock(mutex);
        while (next_turn != turn && !timed_out) {
          if (turn_done.wait_until(lock, absl::ToChronoTime(deadline)) ==
              std::cv_status::timeout) {
            timed_out = true;
          }
        }
        if (timed_out) return;
        lock.unlock();
        body(turn);
        lock.lock();
        ++next_turn;
        turn_done.notify_all();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  ASSERT_FALSE(timed_out) << "turns did not finish within 60 s";
}

TEST(ShardedRecordStoreTest, ZeroCapacityIsInvalidArgument) {
  auto store = ShardedRecordStore::Create(0);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(store.status().message()),
              ::testing::HasSubstr("at least 1"));
}

TEST(ShardedRecordStoreTest, OneThreadReadSizeEvictionClear) {
  auto store = MakeStore(3);
  EXPECT_EQ(store->Size(), 0u);
  EXPECT_THAT(store->Read(), IsEmpty());
  for (int i = 0; i < 5; ++i) {
    store->Append(Line("w", i, absl::StrCat("line ", i)));
    EXPECT_EQ(store->Size(), std::min(i + 1, 3));
  }
  EXPECT_THAT(Texts(store->Read()), ElementsAre("line 2", "line 3", "line 4"));
  EXPECT_THAT(Texts(store->Read(2)), ElementsAre("line 3", "line 4"));
  EXPECT_THAT(Texts(store->Read(0)), IsEmpty());
  EXPECT_THAT(Texts(store->Read(10)), ElementsAre("line 2", "line 3", "line 4"));
  const Record last = store->Read(1).front();
  EXPECT_EQ(last.sender, "w");
  EXPECT_EQ(last.sequence, 4u);
  store->Clear();
  EXPECT_EQ(store->Size(), 0u);
  EXPECT_THAT(store->Read(), IsEmpty());
  store->Append(Line("w", 5, "after clear"));
  EXPECT_EQ(store->Size(), 1u);
  EXPECT_THAT(Texts(store->Read()), ElementsAre("after clear"));
}

TEST(ShardedRecordStoreTest, LongTextAndTraceSurvive) {
  auto store = MakeStore(4);
  Record error = Line("w", 0, std::string(1000, 'e'));
  error.kind = RecordKind::kError;
  error.trace = {"frame 1", "frame 2"};
  error.type = "worker";
  store->Append(error);
  std::vector<Record> read = store->Read();
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].text, error.text);
  EXPECT_EQ(read[0].kind, RecordKind::kError);
  EXPECT_EQ(read[0].trace, error.trace);
  EXPECT_EQ(read[0].type, "worker");
}

// Appends that follow one another across 4 threads: Read returns exactly the
// last N of the chain, in chain order, and so does every Read(n).
TEST(ShardedRecordStoreTest, CausalChainAcrossThreadsIsReadInOrder) {
  const int kTurns = 400;
  const size_t kCapacity = 50;
  auto store = MakeStore(kCapacity);
  RunInTurns(4, kTurns, [&](int turn) {
    store->Append(Line(absl::StrCat("t", turn % 4), turn / 4,
                       absl::StrCat(turn)));
  });
  std::vector<std::string> expected;
  for (int turn = kTurns - kCapacity; turn < kTurns; ++turn) {
    expected.push_back(absl::StrCat(turn));
  }
  EXPECT_EQ(Texts(store->Read()), expected);
  EXPECT_EQ(store->Size(), kCapacity);
  for (size_t n : {size_t{1}, size_t{7}, size_t{49}}) {
    EXPECT_EQ(Texts(store->Read(n)),
              std::vector<std::string>(expected.end() - n, expected.end()));
  }
}

// Concurrent appends: Size is exact once they are done, and Read holds the
// last N with each thread's records in order and, across threads, the
// records of each thread form a suffix of what it wrote.
TEST(ShardedRecordStoreTest, ConcurrentAppendsKeepLastNExactly) {
  const int kThreads = 4;
  const int kPerThread = 3000;
  for (size_t capacity : {size_t{1000}, size_t{20000}}) {
    auto store = MakeStore(capacity);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&store, t] {
        for (int i = 0; i < kPerThread; ++i) {
          store->Append(Line(absl::StrCat("t", t), i, absl::StrCat(t, ":", i)));
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    const size_t expected =
        std::min<size_t>(capacity, kThreads * kPerThread);
    EXPECT_EQ(store->Size(), expected);
    std::vector<Record> read = store->Read();
    ASSERT_EQ(read.size(), expected);
    std::map<std::string, uint64_t> next;
    for (const Record& r : read) {
      auto it = next.find(r.sender);
      if (it != next.end()) {
        EXPECT_EQ(r.sequence, it->second) << r.sender;
      }
      next[r.sender] = r.sequence + 1;
    }
    for (const auto& [sender, after_last] : next) {
      EXPECT_EQ(after_last, static_cast<uint64_t>(kPerThread)) << sender;
    }
  }
}

// A follower reads while 4 threads write free-running records and a causal
// chain: it sees every record exactly once, each writer's in order, and the
// chain in order.
TEST(ShardedRecordStoreTest, FollowerSeesEveryRecordOnceInCausalOrder) {
  const int kThreads = 4;
  const int kPerThread = 4000;
  const int kTurns = 400;
  auto store = MakeStore(1 << 16);
  ShardedRecordStore::Cursor start = store->End();
  std::atomic<bool> done{false};
  std::vector<std::string> problems;
  std::set<std::string> seen;
  int chain_next = 0;
  std::thread follower([&] {
    ShardedRecordStore::Cursor cursor = start;
    std::map<std::string, uint64_t> next_sequence;
    const absl::Time deadline = DeadlineAfter(absl::Seconds(60));
    for (;;) {
      const bool finished = done.load();
      uint64_t skipped = 0;
      std::vector<Record> batch = store->ReadFrom(cursor, 300, &cursor, &skipped);
      if (skipped != 0) problems.push_back(absl::StrCat("skipped ", skipped));
      for (const Record& r : batch) {
        if (!seen.insert(r.text).second) problems.push_back("twice: " + r.text);
        uint64_t& next = next_sequence[r.sender];
        if (r.sequence != next) problems.push_back("out of order: " + r.text);
        next = r.sequence + 1;
        if (r.type == "chain") {
          if (r.text != absl::StrCat("chain ", chain_next)) {
            problems.push_back("chain out of order: " + r.text);
          }
          ++chain_next;
        }
      }
      if (finished && batch.empty()) break;
      if (Now() > deadline) {
        problems.push_back("follower timed out");
        break;
      }
      if (batch.empty()) {
        store->WaitForAppend(cursor, Now() + absl::Milliseconds(50));
      }
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kPerThread; ++i) {
        store->Append(Line(absl::StrCat("free", t), i, absl::StrCat(t, ":", i)));
      }
    });
  }
  std::vector<uint64_t> chain_sequence(4);
  RunInTurns(4, kTurns, [&](int turn) {
    Record r = Line(absl::StrCat("chain", turn % 4), chain_sequence[turn % 4]++,
                    absl::StrCat("chain ", turn));
    r.type = "chain";
    store->Append(r);
  });
  for (std::thread& thread : threads) thread.join();
  done.store(true);
  follower.join();
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread + kTurns));
  EXPECT_EQ(chain_next, kTurns);
}

TEST(ShardedRecordStoreTest, WaitForAppendTimesOutAndWakes) {
  auto store = MakeStore(4);
  ShardedRecordStore::Cursor start = store->End();
  EXPECT_FALSE(store->WaitForAppend(start, Now() + absl::Milliseconds(20)));
  EXPECT_FALSE(store->WaitForAppend(start, Now()));
  // A waiter is woken by an append from another thread (the deadline is
  // only a bound: the test fails rather than hangs).
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    woke = store->WaitForAppend(start, DeadlineAfter(absl::Seconds(30)));
  });
  std::thread([&] { store->Append(Line("w", 0, "x")); }).join();
  waiter.join();
  EXPECT_TRUE(woke);
  EXPECT_TRUE(store->WaitForAppend(start, Now()));
  ShardedRecordStore::Cursor next;
  EXPECT_THAT(Texts(store->ReadFrom(start, 10, &next)), ElementsAre("x"));
  EXPECT_FALSE(store->WaitForAppend(next, Now()));
  EXPECT_TRUE(next.Covers(store->End()));
  EXPECT_FALSE(start.Covers(store->End()));
  EXPECT_EQ(start.Behind(store->End()), 1u);
}

// A follower more than N records of one writer behind is told how many it
// lost; what it gets plus what it lost is everything appended.
TEST(ShardedRecordStoreTest, SlowFollowerIsToldOfEvictedRecords) {
  auto store = MakeStore(10);
  store->Append(Line("main", 0, "before"));
  ShardedRecordStore::Cursor cursor = store->End();
  std::thread([&] {
    for (int i = 0; i < 25; ++i) store->Append(Line("a", i, absl::StrCat("a", i)));
  }).join();
  for (int i = 1; i < 4; ++i) store->Append(Line("main", i, absl::StrCat("m", i)));
  uint64_t skipped = 0;
  std::vector<Record> got = store->ReadFrom(cursor, 100, &cursor, &skipped);
  EXPECT_EQ(skipped, 15u);
  EXPECT_EQ(got.size(), 13u);  // a15..a24 and m1..m3
  EXPECT_EQ(got.front().text, "a15");
  EXPECT_EQ(got.back().text, "m3");
  // max_records splits a catch-up into batches without loss.
  store->Append(Line("main", 4, "m4"));
  store->Append(Line("main", 5, "m5"));
  EXPECT_THAT(Texts(store->ReadFrom(cursor, 1, &cursor, &skipped)),
              ElementsAre("m4"));
  EXPECT_THAT(Texts(store->ReadFrom(cursor, 1, &cursor, &skipped)),
              ElementsAre("m5"));
  EXPECT_EQ(skipped, 0u);
  // Cleared records count as lost for a follower that had not read them.
  store->Append(Line("main", 6, "m6"));
  store->Clear();
  EXPECT_THAT(store->ReadFrom(cursor, 10, &cursor, &skipped), IsEmpty());
  EXPECT_EQ(skipped, 1u);
}

// Shards of exited threads stay readable while they hold some of the last N,
// and are freed once they do not, so many short-lived threads do not pile up
// shards. A follower that had not read a freed shard's records is told.
TEST(ShardedRecordStoreTest, ExitedThreadsAreReadableThenFreed) {
  const size_t kCapacity = 10;
  const int kThreads = 200;
  auto store = MakeStore(kCapacity);
  ShardedRecordStore::Cursor cursor = store->End();
  for (int t = 0; t < kThreads; ++t) {
    std::thread([&, t] {
      store->Append(Line(absl::StrCat("t", t), 0, absl::StrCat(t, "a")));
      store->Append(Line(absl::StrCat("t", t), 1, absl::StrCat(t, "b")));
    }).join();
  }
  std::vector<std::string> expected;
  for (int t = kThreads - 5; t < kThreads; ++t) {
    expected.push_back(absl::StrCat(t, "a"));
    expected.push_back(absl::StrCat(t, "b"));
  }
  EXPECT_EQ(Texts(store->Read()), expected);
  EXPECT_EQ(store->Size(), kCapacity);
  // Passes run when exited shards reach max(8, 2 x kept) and keep at most
  // the 5 holding the last 10 records.
  EXPECT_LE(store->shard_count(), 2 * 5 + 1u);
  uint64_t skipped = 0;
  std::vector<Record> got = store->ReadFrom(cursor, 1000, &cursor, &skipped);
  // Every record of freed shards is counted (fewer shards than tombstones
  // kept); each kept shard had both its records, in order.
  EXPECT_EQ(got.size() + skipped, 2u * kThreads);
  EXPECT_EQ(Texts(got).back(), expected.back());
  // Clear frees every exited shard at once.
  store->Clear();
  EXPECT_EQ(store->shard_count(), 0u);
  EXPECT_THAT(store->Read(), IsEmpty());
}

// Appends from a thread_local destructor that runs after the store's own
// thread-local state is gone still land, after the thread's earlier ones.
struct AppendAtThreadExit {
  ShardedRecordStore* store = nullptr;
  ~AppendAtThreadExit() {
    if (store != nullptr) store->Append(Line("late", 0, "at exit"));
  }
};
thread_local AppendAtThreadExit append_at_thread_exit;

TEST(ShardedRecordStoreTest, AppendFromThreadExitIsKept) {
  auto store = MakeStore(8);
  std::thread([&] {
    // Constructed before the store's thread-local state (first Append), so
    // destroyed after it.
    append_at_thread_exit.store = store.get();
    store->Append(Line("t", 0, "first"));
  }).join();
  EXPECT_THAT(Texts(store->Read()), ElementsAre("first", "at exit"));
  EXPECT_EQ(store->Size(), 2u);
}

TEST(ShardedRecordStoreTest, DestroyedStoreDoesNotConfuseLaterStores) {
  for (int round = 0; round < 3; ++round) {
    auto store = MakeStore(2);
    store->Append(Line("w", 0, absl::StrCat("round ", round)));
    EXPECT_THAT(Texts(store->Read()), ElementsAre(absl::StrCat("round ", round)));
  }
}

}  // namespace
}  // namespace syncstream
