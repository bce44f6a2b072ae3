#include "syncstream/core/record_block_store.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace syncstream {
namespace {

// Records "first" .. "first + count - 1" (their text and sequence).
class CountingBlock final : public RecordBlock {
 public:
  CountingBlock(uint64_t first, size_t count) : first_(first), count_(count) {}
  size_t size() const override { return count_; }
  void Decode(size_t index, Record* into) const override {
    into->sender = "counter";
    into->sequence = first_ + index;
    into->text = absl::StrCat(first_ + index);
  }

 private:
  const uint64_t first_;
  const size_t count_;
};

std::shared_ptr<const RecordBlock> Block(uint64_t first, size_t count) {
  return std::make_shared<CountingBlock>(first, count);
}

std::vector<uint64_t> Sequences(const std::vector<Record>& records) {
  std::vector<uint64_t> out;
  for (const Record& r : records) out.push_back(r.sequence);
  return out;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t end) {
  std::vector<uint64_t> out;
  for (uint64_t i = first; i < end; ++i) out.push_back(i);
  return out;
}

std::unique_ptr<RecordBlockStore> MakeStore(size_t capacity) {
  auto store = RecordBlockStore::Create(capacity);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

TEST(RecordBlockStoreTest, RejectsZeroCapacity) {
  EXPECT_EQ(RecordBlockStore::Create(0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RecordBlockStoreTest, KeepsExactlyTheLastNAcrossBlocks) {
  auto store = MakeStore(10);
  EXPECT_EQ(store->Append(Block(0, 4)), 0u);
  EXPECT_EQ(store->Append(Block(4, 3)), 4u);
  EXPECT_EQ(store->Size(), 7u);
  EXPECT_EQ(Sequences(store->Read()), Range(0, 7));
  EXPECT_EQ(store->Append(Block(7, 5)), 7u);  // 12 appended: 2..11 held
  EXPECT_EQ(store->Size(), 10u);
  EXPECT_EQ(Sequences(store->Read()), Range(2, 12));
  EXPECT_EQ(Sequences(store->Read(3)), Range(9, 12));
  EXPECT_EQ(Sequences(store->Read(6)), Range(6, 12));  // spans two blocks
  // A block longer than the capacity: only its last 10 records are held.
  EXPECT_EQ(store->Append(Block(12, 25)), 12u);
  EXPECT_EQ(store->end_position(), 37u);
  EXPECT_EQ(Sequences(store->Read()), Range(27, 37));
  EXPECT_EQ(store->Read().front().text, "27");
}

TEST(RecordBlockStoreTest, EmptyBlocksAndSingleRecords) {
  auto store = MakeStore(3);
  EXPECT_EQ(store->Append(Block(0, 0)), 0u);
  EXPECT_EQ(store->Append(nullptr), 0u);
  EXPECT_EQ(store->end_position(), 0u);
  Record note;
  note.kind = RecordKind::kWarning;
  note.text = "a note";
  EXPECT_EQ(store->Append(note), 0u);
  EXPECT_EQ(store->Append(Block(1, 2)), 1u);
  std::vector<Record> all = store->Read();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], note);
  EXPECT_EQ(all[2].sequence, 2u);
}

TEST(RecordBlockStoreTest, ClearForgetsButPositionsGoOn) {
  auto store = MakeStore(100);
  store->Append(Block(0, 5));
  store->Clear();
  EXPECT_EQ(store->Size(), 0u);
  EXPECT_TRUE(store->Read().empty());
  EXPECT_EQ(store->Append(Block(5, 2)), 5u);
  EXPECT_EQ(Sequences(store->Read()), Range(5, 7));
  uint64_t next = 0;
  EXPECT_EQ(Sequences(store->ReadFrom(0, 100, &next)), Range(5, 7));
  EXPECT_EQ(next, 7u);
}

TEST(RecordBlockStoreTest, ReadFromSkipsEvictedAndStopsAtMax) {
  auto store = MakeStore(4);
  store->Append(Block(0, 3));
  uint64_t next = 0;
  EXPECT_EQ(Sequences(store->ReadFrom(1, 1, &next)), Range(1, 2));
  EXPECT_EQ(next, 2u);
  store->Append(Block(3, 4));  // 0..6 appended, 3..6 held
  EXPECT_EQ(Sequences(store->ReadFrom(next, 100, &next)), Range(3, 7));
  EXPECT_EQ(next, 7u);
  EXPECT_TRUE(store->ReadFrom(next, 100, &next).empty());
  EXPECT_EQ(next, 7u);
  EXPECT_TRUE(store->ReadFrom(50, 100, &next).empty());
  EXPECT_EQ(next, 50u);
}

TEST(RecordBlockStoreTest, WaitForAppendTimesOutOrWakes) {
  auto store = MakeStore(8);
  EXPECT_FALSE(
      store->WaitForAppend(0, absl::Now() + absl::Milliseconds(20)));
  std::thread appender([&] { store->Append(Block(0, 1)); });
  EXPECT_TRUE(store->WaitForAppend(0, absl::Now() + absl::Seconds(30)));
  appender.join();
  EXPECT_TRUE(store->WaitForAppend(0, absl::Now()));
}

// A follower reading while blocks are appended and evicted sees every
// record it did not fall behind on, in order, and counts the rest as
// skipped.
TEST(RecordBlockStoreTest, FollowerKeepsOrderWhileBlocksComeAndGo) {
  auto store = MakeStore(64);
  constexpr uint64_t kTotal = 20000;
  std::thread appender([&] {
    uint64_t next = 0;
    for (size_t size = 1; next < kTotal; size = size % 13 + 1) {
      const size_t count = std::min<uint64_t>(size, kTotal - next);
      store->Append(Block(next, count));
      next += count;
    }
  });
  uint64_t next = 0;
  uint64_t seen = 0;
  uint64_t skipped = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (next < kTotal) {
    ASSERT_LT(absl::Now(), deadline);
    uint64_t from = next;
    std::vector<Record> records = store->ReadFrom(from, 100, &next);
    for (size_t i = 1; i < records.size(); ++i) {
      ASSERT_EQ(records[i].sequence, records[i - 1].sequence + 1);
    }
    if (!records.empty()) {
      ASSERT_GE(records.front().sequence, from);
      ASSERT_EQ(records.back().sequence + 1, next);
    }
    seen += records.size();
    skipped += next - from - records.size();
    if (records.empty()) {
      store->WaitForAppend(next, absl::Now() + absl::Milliseconds(10));
    }
  }
  appender.join();
  EXPECT_EQ(seen + skipped, kTotal);
  EXPECT_EQ(Sequences(store->Read()), Range(kTotal - 64, kTotal));
}

}  // namespace
}  // namespace syncstream
