#include "syncstream/host/internal/store_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "syncstream/file/segment_format.h"

namespace syncstream::host::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  return absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
}

proto::HostLogEntry Batch(uint64_t sequence, const std::string& text) {
  proto::HostLogEntry entry;
  entry.mutable_batch()->set_mirror_id("mirror");
  entry.mutable_batch()->set_sequence(sequence);
  entry.mutable_batch()->mutable_batch()->add_records()->set_text(text);
  return entry;
}

// One entry as it lies in the log: a frame of the segment format.
std::string Encoded(const proto::HostLogEntry& entry) {
  std::string bytes;
  EXPECT_TRUE(file::AppendMessageFrame(entry, &bytes).ok());
  return bytes;
}

void AppendRaw(const std::string& dir, const std::string& bytes) {
  std::ofstream out(dir + "/host.log", std::ios::app | std::ios::binary);
  out << bytes;
}

std::vector<std::string> Replay(const std::string& dir, ReplayReport* report,
                                absl::Status* status = nullptr) {
  std::vector<std::string> texts;
  auto log = StoreLog::Open(
      dir, false,
      [&](const proto::HostLogEntry& e) {
        texts.push_back(e.batch().batch().records(0).text());
        return absl::OkStatus();
      },
      report);
  if (status != nullptr) *status = log.status();
  return texts;
}

absl::StatusOr<std::unique_ptr<StoreLog>> OpenIgnoringReplay(
    const std::string& dir) {
  ReplayReport report;
  return StoreLog::Open(
      dir, false, [](const auto&) { return absl::OkStatus(); }, &report);
}

TEST(StoreLogTest, AppendedEntriesReplayInOrder) {
  const std::string dir = FreshDir("replay");
  {
    auto log = OpenIgnoringReplay(dir);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((*log)->Append(Batch(i + 1, absl::StrCat("t", i))).ok());
    }
  }
  ReplayReport report;
  EXPECT_THAT(Replay(dir, &report), ElementsAre("t0", "t1", "t2"));
  EXPECT_EQ(report.entries, 3u);
  EXPECT_EQ(report.discarded_bytes, 0u);
}

TEST(StoreLogTest, EntriesAreSegmentFormatFrames) {
  const std::string dir = FreshDir("frames");
  {
    auto log = OpenIgnoringReplay(dir);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Batch(1, "one")).ok());
  }
  std::ifstream in(dir + "/host.log", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, StoreLogHeader() + Encoded(Batch(1, "one")));
  EXPECT_TRUE(file::IsValidFrameAt(bytes, kStoreLogHeaderBytes));
}

TEST(StoreLogTest, TornAndCorruptTailsAreCutOff) {
  const std::string dir = FreshDir("torn");
  {
    auto log = OpenIgnoringReplay(dir);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Batch(1, "whole")).ok());
  }
  // A torn entry: the first 7 bytes of a frame header.
  AppendRaw(dir, Encoded(Batch(2, "torn")).substr(0, 7));
  ReplayReport report;
  EXPECT_THAT(Replay(dir, &report), ElementsAre("whole"));
  EXPECT_EQ(report.discarded_bytes, 7u);
  EXPECT_EQ(report.torn_tail_bytes, 7u);
  EXPECT_FALSE(report.damaged_middle);
  EXPECT_THAT(report.discarded_reason, HasSubstr("truncated frame header"));
  // The cut is persistent, and a corrupt checksum is caught too.
  ReplayReport again;
  Replay(dir, &again);
  EXPECT_EQ(again.discarded_bytes, 0u);
  std::string flipped = Encoded(Batch(2, "flipped"));
  flipped.back() ^= 1;
  AppendRaw(dir, flipped);
  ReplayReport corrupt;
  EXPECT_THAT(Replay(dir, &corrupt), ElementsAre("whole"));
  EXPECT_THAT(corrupt.discarded_reason, HasSubstr("checksum mismatch"));
  EXPECT_EQ(corrupt.torn_tail_bytes, flipped.size());
  // A huge claimed length is refused without waiting for its bytes.
  std::string huge = Encoded(Batch(3, "huge"));
  huge[8] = huge[9] = huge[10] = huge[11] = '\xff';
  AppendRaw(dir, huge);
  ReplayReport oversized;
  EXPECT_THAT(Replay(dir, &oversized), ElementsAre("whole"));
  EXPECT_THAT(oversized.discarded_reason, HasSubstr("exceeds the limit"));
}

TEST(StoreLogTest, ADamagedMiddleEntryIsSkippedAndTheRestReplayed) {
  const std::string dir = FreshDir("middle");
  {
    auto log = OpenIgnoringReplay(dir);
    ASSERT_TRUE(log.ok());
  }
  std::string middle = Encoded(Batch(2, "damaged"));
  middle[middle.size() - 2] ^= 0x40;
  AppendRaw(dir, Encoded(Batch(1, "before")) + middle +
                     Encoded(Batch(3, "after")));
  ReplayReport report;
  EXPECT_THAT(Replay(dir, &report), ElementsAre("before", "after"));
  EXPECT_TRUE(report.damaged_middle);
  EXPECT_EQ(report.discarded_bytes, middle.size());
  EXPECT_EQ(report.torn_tail_bytes, 0u);
}

TEST(StoreLogTest, WrongMagicAndASecondOpenerAreRefused) {
  const std::string dir = FreshDir("magic");
  ReplayReport report;
  {
    auto log = OpenIgnoringReplay(dir);
    ASSERT_TRUE(log.ok());
    auto second = OpenIgnoringReplay(dir);
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  }
  std::ofstream(dir + "/host.log", std::ios::trunc) << "not a log at all";
  absl::Status status;
  Replay(dir, &report, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("header magic mismatch"));
  // A log of the old format version is named as such.
  std::string old = StoreLogHeader();
  old[8] = 1;
  std::ofstream(dir + "/host.log", std::ios::trunc | std::ios::binary) << old;
  Replay(dir, &report, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("format version 1, this collector reads versions 2 to 3"));
}

TEST(StoreLogTest, RewriteReplacesTheLog) {
  const std::string dir = FreshDir("rewrite");
  ReplayReport report;
  {
    auto log = OpenIgnoringReplay(dir);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*log)->Append(Batch(i + 1, absl::StrCat("old", i))).ok());
    }
    ASSERT_TRUE((*log)->Rewrite([](const StoreLog::Replay& emit) {
      return emit(Batch(1, "compacted"));
    }).ok());
    ASSERT_TRUE((*log)->Append(Batch(2, "after")).ok());
  }
  EXPECT_THAT(Replay(dir, &report), ElementsAre("compacted", "after"));
}

TEST(StoreLogTest, AReplayErrorNamesTheEntry) {
  const std::string bytes = StoreLogHeader() + Encoded(Batch(1, "a")) +
                            Encoded(Batch(2, "b"));
  ReplayReport report;
  int calls = 0;
  auto end = ReplayStoreLog(
      bytes, "test", [&](const proto::HostLogEntry&) {
        return ++calls == 2 ? absl::DataLossError("bad record")
                            : absl::OkStatus();
      },
      &report);
  EXPECT_EQ(end.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(end.status().message(), HasSubstr("entry 1: bad record"));
}

}  // namespace
}  // namespace syncstream::host::internal
