#include "syncstream/host/internal/store_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace syncstream::host::internal {
namespace {

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

TEST(StoreLogTest, AppendedEntriesReplayInOrder) {
  const std::string dir = FreshDir("replay");
  {
    ReplayReport report;
    auto log = StoreLog::Open(dir, false, [](const auto&) {
      return absl::OkStatus();
    }, &report);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((*log)->Append(Batch(i + 1, absl::StrCat("t", i))).ok());
    }
  }
  ReplayReport report;
  EXPECT_THAT(Replay(dir, &report), ::testing::ElementsAre("t0", "t1", "t2"));
  EXPECT_EQ(report.entries, 3u);
  EXPECT_EQ(report.discarded_bytes, 0u);
}

TEST(StoreLogTest, TornAndCorruptTailsAreCutOff) {
  const std::string dir = FreshDir("torn");
  {
    ReplayReport report;
    auto log = StoreLog::Open(dir, false, [](const auto&) {
      return absl::OkStatus();
    }, &report);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Batch(1, "whole")).ok());
  }
  {
    std::ofstream out(dir + "/host.log", std::ios::app | std::ios::binary);
    out << std::string("\x20\x00\x00\x00\x01\x02", 6);  // a torn header
  }
  ReplayReport report;
  EXPECT_THAT(Replay(dir, &report), ::testing::ElementsAre("whole"));
  EXPECT_EQ(report.discarded_bytes, 6u);
  // The cut is persistent, and a corrupt checksum is caught too.
  ReplayReport again;
  Replay(dir, &again);
  EXPECT_EQ(again.discarded_bytes, 0u);
  {
    std::string entry;
    ASSERT_TRUE(EncodeStoreLogEntry(Batch(2, "flipped"), &entry).ok());
    entry.back() ^= 1;
    std::ofstream out(dir + "/host.log", std::ios::app | std::ios::binary);
    out << entry;
  }
  ReplayReport corrupt;
  EXPECT_THAT(Replay(dir, &corrupt), ::testing::ElementsAre("whole"));
  EXPECT_THAT(corrupt.discarded_reason, HasSubstr("checksum mismatch"));
}

TEST(StoreLogTest, WrongMagicAndASecondOpenerAreRefused) {
  const std::string dir = FreshDir("magic");
  ReplayReport report;
  {
    auto log = StoreLog::Open(dir, false, [](const auto&) {
      return absl::OkStatus();
    }, &report);
    ASSERT_TRUE(log.ok());
    auto second = StoreLog::Open(dir, false, [](const auto&) {
      return absl::OkStatus();
    }, &report);
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  }
  std::ofstream(dir + "/host.log", std::ios::trunc) << "not a log at all";
  absl::Status status;
  Replay(dir, &report, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("header magic mismatch"));
}

TEST(StoreLogTest, RewriteReplacesTheLog) {
  const std::string dir = FreshDir("rewrite");
  ReplayReport report;
  {
    auto log = StoreLog::Open(dir, false, [](const auto&) {
      return absl::OkStatus();
    }, &report);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*log)->Append(Batch(i + 1, absl::StrCat("old", i))).ok());
    }
    ASSERT_TRUE((*log)->Rewrite([](const StoreLog::Replay& emit) {
      return emit(Batch(1, "compacted"));
    }).ok());
    ASSERT_TRUE((*log)->Append(Batch(2, "after")).ok());
  }
  EXPECT_THAT(Replay(dir, &report),
              ::testing::ElementsAre("compacted", "after"));
}

TEST(StoreLogTest, DecodeRejectsHugeLengthsWithoutReadingThem) {
  std::string bytes("\xff\xff\xff\x7f\x00\x00\x00\x00", 8);
  proto::HostLogEntry entry;
  auto used = DecodeStoreLogEntry(bytes, &entry);
  EXPECT_EQ(used.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace syncstream::host::internal
