#include "syncstream/core/line_writer.h"

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "syncstream/core/testing/clock.h"

namespace syncstream {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// Collects what the writer publishes.
class CollectingWriter : public LineWriter {
 public:
  explicit CollectingWriter(LineWriterOptions options = {},
                            Stamping stamping = Stamping::kWallClock)
      : LineWriter(std::move(options), stamping) {}
  ~CollectingWriter() override { CloseAllWriters().IgnoreError(); }

  std::vector<Record> records() {
    std::lock_guard<std::mutex> guard(mutex_);
    return records_;
  }
  absl::Status fail_with;
  using LineWriter::CloseAllWriters;
  using LineWriter::Stamping;

 protected:
  absl::Status Publish(const Record& record) override {
    std::lock_guard<std::mutex> guard(mutex_);
    records_.push_back(record);
    return fail_with;
  }

 private:
  std::mutex mutex_;
  std::vector<Record> records_;
};

// Rejects text writes once `refuse` is set (as a stopped mirror does).
class RefusingWriter : public CollectingWriter {
 public:
  std::atomic<bool> refuse{false};

 protected:
  absl::Status AdmitWrite() override {
    return refuse.load() ? absl::FailedPreconditionError("stopped")
                         : absl::OkStatus();
  }
};

std::vector<std::string> Texts(const std::vector<Record>& records) {
  std::vector<std::string> texts;
  for (const Record& r : records) texts.push_back(FormatRecord(r));
  return texts;
}

// Overrides PublishLine: notes each line's fields from the view itself.
class ViewWriter : public CollectingWriter {
 public:
  using CollectingWriter::CollectingWriter;
  struct Line {
    std::string sender;
    uint64_t writer_id;
    uint64_t order_key;
    uint64_t sequence;
    int64_t unix_nanos;
    std::string text;
    bool continued;
  };
  std::vector<Line> lines;  // one writing thread: no lock

 protected:
  absl::Status PublishLine(const LineView& line) override {
    lines.push_back({line.sender(), line.writer_id(), line.order_key(),
                     line.sequence(), line.unix_nanos(),
                     std::string(line.text()), line.continued()});
    EXPECT_EQ(line.timestamp(), absl::FromUnixNanos(line.unix_nanos()));
    // The Record form carries the same fields.
    const Record& record = line.record();
    EXPECT_TRUE(record.is_line());
    EXPECT_EQ(record.text, line.text());
    EXPECT_EQ(record.sequence, line.sequence());
    EXPECT_EQ(record.continued, line.continued());
    return absl::OkStatus();
  }
};

TEST(LineWriterTest, LinesComeThroughPublishLineAndWholeRecordsThroughPublish) {
  LineWriterOptions options;
  options.name = "v";
  options.max_line_length = 4;
  ViewWriter writer(options);
  ASSERT_TRUE(writer.Write("ab\r\ncdefgh\npart").ok());
  ASSERT_TRUE(writer.SendEof().ok());
  ASSERT_EQ(writer.lines.size(), 4u);
  EXPECT_EQ(writer.lines[0].text, "ab");
  EXPECT_EQ(writer.lines[1].text, "cdef");
  EXPECT_TRUE(writer.lines[1].continued);
  EXPECT_EQ(writer.lines[2].text, "gh");
  EXPECT_FALSE(writer.lines[2].continued);
  EXPECT_EQ(writer.lines[3].text, "part");  // flushed by SendEof
  for (uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(writer.lines[i].sender, "v");
    EXPECT_EQ(writer.lines[i].sequence, i);
    EXPECT_GT(writer.lines[i].unix_nanos, 0);
  }
  // Lines completed by one Write share one timestamp; one writer, one id;
  // no order keys unless asked for.
  EXPECT_EQ(writer.lines[0].unix_nanos, writer.lines[2].unix_nanos);
  for (const ViewWriter::Line& line : writer.lines) {
    EXPECT_EQ(line.writer_id, writer.lines[0].writer_id);
    EXPECT_EQ(line.order_key, 0u);
  }
  // Only the end-of-stream record reached Publish, numbered after the lines.
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].is_end_of_stream());
  EXPECT_EQ(records[0].sequence, 4u);
}

// With Stamping::kWallClockAndOrderKey every line, even of one Write, has
// its own order key, increasing, and a time close to the wall clock; writers
// have distinct ids.
TEST(LineWriterTest, OrderKeysStampEveryLine) {
  LineWriterOptions options;
  options.name = "k";
  ViewWriter writer(options, ViewWriter::Stamping::kWallClockAndOrderKey);
  const absl::Time before = testing::RealtimeNow();
  ASSERT_TRUE(writer.Write("a\nb\nc\n").ok());
  {
    std::unique_ptr<LineWriter::Writer> other = writer.NewWriter("other");
    ASSERT_TRUE(other->Write("d\n").ok());
  }
  const absl::Time after = testing::RealtimeNow();
  ASSERT_EQ(writer.lines.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_GT(writer.lines[i].order_key, 0u);
    if (i > 0) {
      EXPECT_GT(writer.lines[i].order_key, writer.lines[i - 1].order_key);
      EXPECT_GE(writer.lines[i].unix_nanos, writer.lines[i - 1].unix_nanos);
    }
    EXPECT_GE(absl::FromUnixNanos(writer.lines[i].unix_nanos),
              before - testing::kTimestampTolerance);
    EXPECT_LE(absl::FromUnixNanos(writer.lines[i].unix_nanos),
              after + testing::kTimestampTolerance);
  }
  EXPECT_EQ(writer.lines[2].writer_id, writer.lines[0].writer_id);
  EXPECT_NE(writer.lines[3].writer_id, writer.lines[0].writer_id);
}

// The timestamp contract (line_writer.h), with and without order keys, on
// the clock source this test target runs on (clock_tests.bzl): every line's
// time is within the tolerance of CLOCK_REALTIME around its Write, across
// many re-anchorings of the clock, and never decreases.
class TimestampContractTest
    : public ::testing::TestWithParam<ViewWriter::Stamping> {};

TEST_P(TimestampContractTest, WithinToleranceOfTheWallClock) {
  testing::ExpectRequestedClockSource();
  ViewWriter writer(LineWriterOptions{}, GetParam());
  std::vector<std::pair<absl::Time, absl::Time>> windows;
  const absl::Time start = testing::RealtimeNow();
  // 20 ms of writes: the clock anchors, measures its rate and converts.
  while (testing::RealtimeNow() - start < absl::Milliseconds(20)) {
    const absl::Time before = testing::RealtimeNow();
    ASSERT_TRUE(writer.Write("line\n").ok());
    windows.emplace_back(before, testing::RealtimeNow());
  }
  ASSERT_EQ(writer.lines.size(), windows.size());
  for (size_t i = 0; i < windows.size(); ++i) {
    const absl::Time at = absl::FromUnixNanos(writer.lines[i].unix_nanos);
    ASSERT_GE(at, windows[i].first - testing::kTimestampTolerance) << i;
    ASSERT_LE(at, windows[i].second + testing::kTimestampTolerance) << i;
    if (i > 0) {
      ASSERT_GE(writer.lines[i].unix_nanos, writer.lines[i - 1].unix_nanos);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    BothStampings, TimestampContractTest,
    ::testing::Values(ViewWriter::Stamping::kWallClock,
                      ViewWriter::Stamping::kWallClockAndOrderKey));

TEST(LineWriterTest, RefusedWriteDeliversThePendingLineAndDropsTheText) {
  RefusingWriter writer;
  ASSERT_TRUE(writer.Write("done\npartial").ok());
  writer.refuse = true;
  absl::Status refused = writer.Write(" more\n");
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  // Ending the stream is not a text write: still admitted.
  EXPECT_TRUE(writer.SendEof().ok());
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].text, "done");
  EXPECT_EQ(records[1].text, "partial");
  EXPECT_TRUE(records[2].is_end_of_stream());
}

TEST(LineWriterTest, SeveralInsertionsMakeOneLine) {
  CollectingWriter writer;
  writer.stream() << "Message" << ' ' << "item" << ' ' << 42 << '\n';
  EXPECT_THAT(Texts(writer.records()), ElementsAre("Message item 42"));
  EXPECT_EQ(writer.records()[0].sender, "writer");
  EXPECT_EQ(writer.records()[0].sequence, 0u);
}

TEST(LineWriterTest, SequenceNumbersCountEveryRecordOfAWriter) {
  CollectingWriter writer;
  ASSERT_TRUE(writer.Write("a\nb\n").ok());
  ASSERT_TRUE(writer.SendWarning("careful").ok());
  ASSERT_TRUE(writer.SendEof().ok());
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), 4u);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].sequence, i);
  }
  EXPECT_TRUE(records[2].is_warning());
  EXPECT_TRUE(records[3].is_end_of_stream());
}

TEST(LineWriterTest, PendingLineIsVisibleAndFlushedByEof) {
  CollectingWriter writer;
  ASSERT_TRUE(writer.Write("partial").ok());
  EXPECT_THAT(writer.PendingLines(), ElementsAre(Pair("writer", "partial")));
  ASSERT_TRUE(writer.SendEof().ok());
  EXPECT_THAT(Texts(writer.records()),
              ElementsAre("partial", "<end of stream from writer>"));
  EXPECT_TRUE(writer.PendingLines().empty());
}

TEST(LineWriterTest, ThreadsKeepSeparatePartialLines) {
  CollectingWriter writer(LineWriterOptions{"t", "", 1024});
  std::thread other;
  ASSERT_TRUE(writer.Write("main-").ok());
  other = std::thread([&] { ASSERT_TRUE(writer.Write("other-").ok()); });
  other.join();
  ASSERT_TRUE(writer.Write("end\n").ok());
  other = std::thread([&] { ASSERT_TRUE(writer.Write("x\n").ok()); });
  other.join();
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), 3u);
  // The first thread's partial line was delivered when it exited.
  EXPECT_EQ(records[0].text, "other-");
  EXPECT_EQ(records[0].sender, "t.1");
  EXPECT_EQ(records[1].text, "main-end");
  EXPECT_EQ(records[1].sender, "t");
  // The second thread is a new writer: a fresh token, not the first's line.
  EXPECT_EQ(records[2].text, "x");
  EXPECT_EQ(records[2].sender, "t.2");
}

// A thread's state is freed when it exits, its pending partial line
// delivered first: a writer used by many short-lived threads holds only the
// states of live ones.
TEST(LineWriterTest, ExitingThreadsDeliverTheirPartialLineAndFreeTheirState) {
  CollectingWriter writer(LineWriterOptions{"t", "", 1024});
  constexpr int kThreads = 200;
  for (int i = 0; i < kThreads; ++i) {
    std::thread([&, i] {
      ASSERT_TRUE(writer.Write(absl::StrCat("done ", i, "\nhalf ", i)).ok());
      writer.stream() << " of it";
    }).join();
    ASSERT_TRUE(writer.PendingLines().empty()) << "thread " << i;
  }
  EXPECT_EQ(writer.thread_writers(), 0u);
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), 2u * kThreads);
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(records[2 * i].text, absl::StrCat("done ", i));
    EXPECT_EQ(records[2 * i + 1].text, absl::StrCat("half ", i, " of it"));
    EXPECT_EQ(records[2 * i + 1].sender, records[2 * i].sender);
  }
  // Sender names stay unique: a new thread never reuses an exited one's.
  EXPECT_NE(records[0].sender, records[2].sender);
  ASSERT_TRUE(writer.Write("main").ok());
  EXPECT_EQ(writer.thread_writers(), 1u);
}

// A thread that exits after its writer was destroyed touches nothing of it.
TEST(LineWriterTest, ThreadExitingAfterItsWriterWasDestroyed) {
  std::atomic<bool> wrote{false}, destroyed{false};
  auto writer = std::make_unique<CollectingWriter>();
  std::thread thread([&] {
    ASSERT_TRUE(writer->Write("partial").ok());
    wrote = true;
    while (!destroyed) std::this_thread::yield();
  });
  while (!wrote) std::this_thread::yield();
  writer.reset();
  destroyed = true;
  thread.join();
}

// Each thread's stream() has its own formatting state.
TEST(LineWriterTest, StreamFormattingIsPerThread) {
  CollectingWriter writer(LineWriterOptions{"t", "", 1024});
  writer.stream() << std::hex << 255 << '\n';
  std::thread([&] { writer.stream() << 255 << '\n'; }).join();
  writer.stream() << 255 << '\n';
  std::vector<std::string> texts;
  for (const Record& r : writer.records()) texts.push_back(r.text);
  EXPECT_THAT(texts, ElementsAre("ff", "255", "ff"));
}

TEST(LineWriterTest, ManyThreadsNeverMixLines) {
  CollectingWriter writer;
  constexpr int kThreads = 8, kLines = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) {
        writer.stream() << "thread " << t << " line " << i << '\n';
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const Record& r : records) {
    int t = -1, i = -1;
    ASSERT_EQ(sscanf(r.text.c_str(), "thread %d line %d", &t, &i), 2)
        << r.text;
    ASSERT_EQ(r.text, absl::StrCat("thread ", t, " line ", i));
    ASSERT_EQ(i, next[t]++);
  }
}

TEST(LineWriterTest, ExplicitWritersAreIndependentAndFlushOnDestruction) {
  CollectingWriter writer;
  {
    auto out = writer.NewWriter("proc", "stdout");
    auto err = writer.NewWriter("proc", "stderr");
    ASSERT_TRUE(out->Write("o1 ").ok());
    ASSERT_TRUE(err->Write("e1\n").ok());
    ASSERT_TRUE(out->Write("o2").ok());
  }
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "e1");
  EXPECT_EQ(records[0].type, "stderr");
  EXPECT_EQ(records[1].text, "o1 o2");
  EXPECT_EQ(records[1].type, "stdout");
}

TEST(LineWriterTest, SendErrorRecordsExceptionTypeMessageAndTrace) {
  CollectingWriter writer;
  ASSERT_TRUE(writer.Write("before").ok());
  try {
    throw std::invalid_argument("bad input");
  } catch (const std::exception& e) {
    ASSERT_TRUE(writer.SendError(e).ok());
  }
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "before");  // pending line flushed first
  EXPECT_TRUE(records[1].is_error());
  EXPECT_EQ(records[1].text, "std::invalid_argument: bad input");
  ASSERT_FALSE(records[1].trace.empty());
  EXPECT_THAT(records[1].trace[0], HasSubstr("LineWriterTest"));
  EXPECT_THAT(FormatRecord(records[1]),
              HasSubstr("Error from writer: std::invalid_argument"));
}

TEST(LineWriterTest, SendErrorWithStatus) {
  CollectingWriter writer;
  ASSERT_TRUE(writer.SendError(absl::DataLossError("torn tail")).ok());
  EXPECT_EQ(writer.records()[0].text, "DATA_LOSS: torn tail");
}

TEST(LineWriterTest, SendErrorAndWarningCarryTheGivenTrace) {
  CollectingWriter writer;
  ASSERT_TRUE(writer.Write("partial").ok());
  ASSERT_TRUE(writer
                  .SendError("TypeError: bad",
                             {"Traceback (most recent call last):",
                              "  File \"w.py\", line 3, in f"})
                  .ok());
  ASSERT_TRUE(writer.SendWarning("UserWarning: careful", {}).ok());
  std::vector<Record> records = writer.records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].text, "partial");  // pending line flushed first
  EXPECT_TRUE(records[1].is_error());
  EXPECT_EQ(records[1].text, "TypeError: bad");
  EXPECT_THAT(records[1].trace,
              ElementsAre("Traceback (most recent call last):",
                          "  File \"w.py\", line 3, in f"));
  EXPECT_TRUE(records[2].is_warning());
  EXPECT_TRUE(records[2].trace.empty());  // no C++ stack added
  EXPECT_EQ(records[2].sequence, records[1].sequence + 1);
}

TEST(LineWriterTest, PublishFailureReachesTheCallerAndTheStream) {
  CollectingWriter writer;
  writer.fail_with = absl::FailedPreconditionError("stopped");
  EXPECT_EQ(writer.Write("x\n").code(), absl::StatusCode::kFailedPrecondition);
  writer.stream() << "y\n";
  EXPECT_TRUE(writer.stream().fail());
}

TEST(LineWriterTest, CloseAllWritersFlushesEveryThreadAndSendsEof) {
  CollectingWriter writer;
  std::thread([&] { ASSERT_TRUE(writer.Write("from thread").ok()); }).join();
  ASSERT_TRUE(writer.Write("from main").ok());
  ASSERT_TRUE(writer.CloseAllWriters(/*send_eof=*/true).ok());
  // The exited thread delivered its line when it exited and has no writer
  // left to end; the main thread's is flushed and ended.
  std::vector<std::string> texts = Texts(writer.records());
  EXPECT_THAT(texts, ElementsAre("from thread", "from main",
                                 ::testing::StartsWith("<end of stream")));
}

}  // namespace
}  // namespace syncstream
