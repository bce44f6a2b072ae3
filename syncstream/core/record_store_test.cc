#include "syncstream/core/record_store.h"

#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"

namespace syncstream {
namespace {

Record Line(std::string text) {
  Record r;
  r.text = std::move(text);
  return r;
}

std::vector<std::string> Texts(const std::vector<Record>& records) {
  std::vector<std::string> texts;
  for (const Record& r : records) texts.push_back(r.text);
  return texts;
}

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RecordStoreTest, WrapsCorrectlyForOddCapacitiesOverManyLaps) {
  // The slot of a position is computed without division; check it against
  // the records read back for capacities that are not powers of two.
  for (size_t capacity : {1u, 3u, 7u, 10u, 1000u}) {
    auto store = RecordStore::Create(capacity);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 5000; ++i) (*store)->Append(Line(absl::StrCat(i)));
    std::vector<Record> last = (*store)->Read();
    ASSERT_EQ(last.size(), capacity);
    for (size_t k = 0; k < capacity; ++k) {
      EXPECT_EQ(last[k].text, absl::StrCat(5000 - capacity + k));
    }
  }
}

TEST(RecordStoreTest, ZeroCapacityIsInvalidArgument) {
  auto store = RecordStore::Create(0);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(store.status().message()),
              ::testing::HasSubstr("at least 1"));
}

TEST(RecordStoreTest, ReadReturnsOldestFirstAndEvictsBeyondCapacity) {
  auto store = *RecordStore::Create(3);
  EXPECT_THAT(store->Read(), IsEmpty());
  EXPECT_EQ(store->Size(), 0u);
  for (int i = 0; i < 5; ++i) store->Append(Line(absl::StrCat(i)));
  EXPECT_EQ(store->Size(), 3u);
  EXPECT_THAT(Texts(store->Read()), ElementsAre("2", "3", "4"));
}

TEST(RecordStoreTest, ReadNForEachN) {
  auto store = *RecordStore::Create(10);
  for (int i = 0; i < 10; ++i) store->Append(Line(absl::StrCat(i)));
  for (size_t n = 0; n <= 12; ++n) {
    std::vector<std::string> expected;
    for (int i = 10 - static_cast<int>(std::min<size_t>(n, 10)); i < 10; ++i) {
      expected.push_back(absl::StrCat(i));
    }
    EXPECT_EQ(Texts(store->Read(n)), expected) << "n=" << n;
  }
}

TEST(RecordStoreTest, SizeIsExactBeforeAndAfterWrapping) {
  auto store = *RecordStore::Create(4);
  for (size_t i = 1; i <= 9; ++i) {
    store->Append(Line("x"));
    EXPECT_EQ(store->Size(), std::min<size_t>(i, 4));
  }
}

TEST(RecordStoreTest, ClearForgetsEverythingAndKeepsPositions) {
  auto store = *RecordStore::Create(4);
  store->Append(Line("a"));
  store->Append(Line("b"));
  store->Clear();
  EXPECT_EQ(store->Size(), 0u);
  EXPECT_THAT(store->Read(), IsEmpty());
  EXPECT_EQ(store->Append(Line("c")), 2u);
  EXPECT_THAT(Texts(store->Read()), ElementsAre("c"));
}

TEST(RecordStoreTest, ReadFromFollowsAndSkipsEvicted) {
  auto store = *RecordStore::Create(2);
  uint64_t next = 0;
  EXPECT_THAT(store->ReadFrom(next, 10, &next), IsEmpty());
  EXPECT_EQ(next, 0u);
  for (int i = 0; i < 5; ++i) store->Append(Line(absl::StrCat(i)));
  EXPECT_THAT(Texts(store->ReadFrom(next, 10, &next)), ElementsAre("3", "4"));
  EXPECT_EQ(next, 5u);
  store->Append(Line("5"));
  EXPECT_THAT(Texts(store->ReadFrom(next, 1, &next)), ElementsAre("5"));
}

TEST(RecordStoreTest, WaitForAppendTimesOutThenWakes) {
  auto store = *RecordStore::Create(2);
  EXPECT_FALSE(store->WaitForAppend(0, ::syncstream::Now() + absl::Milliseconds(20)));
  std::thread writer([&] { store->Append(Line("late")); });
  EXPECT_TRUE(store->WaitForAppend(0, absl::InfiniteFuture()));
  writer.join();
}

TEST(RecordStoreTest, ConcurrentAppendsKeepEveryRecordWholeAndPerWriterOrder) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  auto store = *RecordStore::Create(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Record r;
      r.sender = absl::StrCat("t", t);
      for (int i = 0; i < kPerThread; ++i) {
        r.sequence = i;
        r.text = absl::StrCat("thread ", t, " line ", i, " ",
                              std::string(40, 'a' + t));
        store->Append(r);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<Record> all = store->Read();
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  std::vector<uint64_t> next(kThreads, 0);
  for (const Record& r : all) {
    int t = r.sender[1] - '0';
    ASSERT_EQ(r.sequence, next[t]) << r.sender;
    ASSERT_EQ(r.text, absl::StrCat("thread ", t, " line ", r.sequence, " ",
                                   std::string(40, 'a' + t)));
    ++next[t];
  }
}

// Far more writers than cores over rings of 1 and 3: writers are preempted
// between taking a position and copying their record (or while waiting for
// an earlier writer of their slot), and later writers take their slots over.
// A follower must still see every record whole, each writer's records in
// order, and the store must end holding exactly its last N (a slot that went
// back to an earlier position would leave Read() waiting for a record that
// never comes).
class OvertakingTest : public ::testing::TestWithParam<size_t> {};

TEST_P(OvertakingTest, OvertakingKeepsOrderAndWholeRecords) {
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 20000;
  const size_t capacity = GetParam();
  auto store = *RecordStore::Create(capacity);
  std::atomic<int> writing{kThreads};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      Record r;
      r.sender = absl::StrCat("w", t);
      for (uint64_t i = 0; i < kPerThread; ++i) {
        r.sequence = i;
        r.text = absl::StrCat(r.sender, " line ", i, " ",
                              std::string(20 + i % 40, 'a' + t));
        store->Append(r);
      }
      writing.fetch_sub(1);
    });
  }
  std::vector<int64_t> last(kThreads, -1);
  uint64_t from = 0;
  size_t seen = 0;
  auto check = [&](const std::vector<Record>& batch) {
    for (const Record& r : batch) {
      const int t = r.sender[1] - '0';
      ASSERT_EQ(r.text, absl::StrCat(r.sender, " line ", r.sequence, " ",
                                     std::string(20 + r.sequence % 40,
                                                 'a' + t)));
      ASSERT_GT(static_cast<int64_t>(r.sequence), last[t]) << r.sender;
      last[t] = static_cast<int64_t>(r.sequence);
      ++seen;
    }
  };
  while (writing.load() > 0) {
    uint64_t next;
    check(store->ReadFrom(from, 64, &next));
    from = next;
  }
  for (std::thread& writer : writers) writer.join();
  uint64_t next;
  check(store->ReadFrom(from, 64, &next));
  EXPECT_GT(seen, 0u);
  EXPECT_EQ(store->end_position(), kThreads * kPerThread);
  EXPECT_EQ(store->Size(), capacity);
  std::vector<Record> final_records = store->Read();
  ASSERT_EQ(final_records.size(), capacity);
}

INSTANTIATE_TEST_SUITE_P(RecordStoreTest, OvertakingTest,
                         ::testing::Values(size_t{1}, size_t{3}));

TEST(RecordStoreTest, ReadersDuringWrapAroundSeeOnlyWholeRecordsInOrder) {
  auto store = *RecordStore::Create(8);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    Record r;
    for (uint64_t i = 0; i < 50000; ++i) {
      r.sequence = i;
      r.text = absl::StrCat("line-", i);
      store->Append(r);
    }
    done = true;
  });
  while (!done) {
    std::vector<Record> snapshot = store->Read();
    for (size_t i = 0; i < snapshot.size(); ++i) {
      ASSERT_EQ(snapshot[i].text, absl::StrCat("line-", snapshot[i].sequence));
      if (i > 0) {
        ASSERT_GT(snapshot[i].sequence, snapshot[i - 1].sequence);
      }
    }
  }
  writer.join();
}

// Short lines are stored inline without a lock, long lines and traces under
// the slot's lock: readers racing two writers over a small ring must see
// each record whole, whichever mix of the two a slot goes through.
TEST(RecordStoreTest, ReadersSeeWholeRecordsOfEveryShapeDuringWrapAround) {
  auto store = *RecordStore::Create(5);
  std::atomic<int> writing{2};
  auto describe = [](const std::string& sender, uint64_t i) {
    // Short, long (beyond the inline size) and trace-carrying records.
    std::string text = absl::StrCat(sender, "-", i);
    if (i % 3 == 1) text += std::string(300 + i % 50, static_cast<char>('a' + i % 26));
    return text;
  };
  std::vector<std::thread> writers;
  for (const char* sender : {"w0", "w1"}) {
    writers.emplace_back([&, sender] {
      Record r;
      r.sender = sender;
      for (uint64_t i = 0; i < 20000; ++i) {
        r.sequence = i;
        r.kind = i % 3 == 2 ? RecordKind::kError : RecordKind::kLine;
        r.text = describe(sender, i);
        r.trace.clear();
        if (i % 3 == 2) r.trace = {absl::StrCat("#0 ", i), "#1 main"};
        store->Append(r);
      }
      writing.fetch_sub(1);
    });
  }
  size_t checked = 0;
  while (writing.load() > 0) {
    for (const Record& r : store->Read()) {
      ++checked;
      ASSERT_EQ(r.text, describe(r.sender, r.sequence));
      if (r.sequence % 3 == 2) {
        ASSERT_EQ(r.kind, RecordKind::kError);
        ASSERT_EQ(r.trace, (std::vector<std::string>{
                               absl::StrCat("#0 ", r.sequence), "#1 main"}));
      } else {
        ASSERT_EQ(r.kind, RecordKind::kLine);
        ASSERT_TRUE(r.trace.empty());
      }
    }
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_GT(checked, 0u);
}

TEST(RecordStoreTest, AppendBatchTakesConsecutivePositionsAndEveryName) {
  auto store = RecordStore::Create(5);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->AppendBatch({}), 0u);
  EXPECT_EQ((*store)->Append(Line("first")), 0u);
  std::vector<Record> batch;
  for (int i = 0; i < 3; ++i) {
    Record r = Line(absl::StrCat("b", i));
    r.sender = i < 2 ? "a" : "b";  // a run of equal names, then a change
    r.type = i == 1 ? "stderr" : "";
    r.sequence = i;
    batch.push_back(r);
  }
  EXPECT_EQ((*store)->AppendBatch(batch), 1u);
  EXPECT_EQ((*store)->end_position(), 4u);
  std::vector<Record> held = (*store)->Read();
  ASSERT_EQ(held.size(), 4u);
  EXPECT_EQ(held[0].text, "first");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(held[i + 1], batch[i]) << i;
}

TEST(RecordStoreTest, AppendBatchLargerThanTheCapacityKeepsItsLastRecords) {
  for (size_t capacity : {1u, 3u, 7u}) {
    auto store = RecordStore::Create(capacity);
    ASSERT_TRUE(store.ok());
    std::vector<Record> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(Line(absl::StrCat(i)));
    EXPECT_EQ((*store)->AppendBatch(batch), 0u);
    std::vector<Record> held = (*store)->Read();
    ASSERT_EQ(held.size(), capacity);
    for (size_t k = 0; k < capacity; ++k) {
      EXPECT_EQ(held[k].text, absl::StrCat(20 - capacity + k));
    }
  }
}

TEST(RecordStoreTest, ConcurrentBatchesStayContiguous) {
  constexpr int kBatches = 2000;
  constexpr int kBatchSize = 7;
  auto store = RecordStore::Create(kBatches * kBatchSize * 2);
  ASSERT_TRUE(store.ok());
  auto writer = [&](std::string sender) {
    std::vector<Record> batch(kBatchSize);
    for (int b = 0; b < kBatches; ++b) {
      for (int i = 0; i < kBatchSize; ++i) {
        batch[i].sender = sender;
        batch[i].sequence = static_cast<uint64_t>(b * kBatchSize + i);
      }
      (*store)->AppendBatch(batch);
    }
  };
  std::thread a(writer, "a"), b(writer, "b");
  a.join();
  b.join();
  std::vector<Record> held = (*store)->Read();
  ASSERT_EQ(held.size(), size_t{2 * kBatches * kBatchSize});
  uint64_t next[2] = {0, 0};
  for (size_t k = 0; k < held.size(); k += kBatchSize) {
    const std::string& sender = held[k].sender;
    const int w = sender == "a" ? 0 : 1;
    for (int i = 0; i < kBatchSize; ++i) {
      ASSERT_EQ(held[k + i].sender, sender) << k + i;
      ASSERT_EQ(held[k + i].sequence, next[w]++) << k + i;
    }
  }
}

}  // namespace
}  // namespace syncstream
