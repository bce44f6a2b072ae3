#include "syncstream/thread/line_buffer.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "syncstream/core/fd_capture.h"
#include "syncstream/core/scoped_redirect.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/internal/sanitizers.h"
#include "syncstream/core/testing/clock.h"

namespace syncstream {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

std::unique_ptr<LineBuffer> MakeBuffer(size_t maxlen,
                                       LineBufferOptions options = {}) {
  absl::StatusOr<std::unique_ptr<LineBuffer>> buffer =
      LineBuffer::Create(maxlen, std::move(options));
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  return buffer.ok() ? *std::move(buffer) : nullptr;
}

std::vector<std::string> Texts(const std::vector<Record>& records) {
  std::vector<std::string> texts;
  for (const Record& r : records) texts.push_back(FormatRecord(r));
  return texts;
}

TEST(LineBufferTest, ZeroMaxlenIsInvalidArgument) {
  LineBufferOptions options;
  options.name = "jobs";
  absl::StatusOr<std::unique_ptr<LineBuffer>> buffer =
      LineBuffer::Create(0, options);
  ASSERT_FALSE(buffer.ok());
  EXPECT_EQ(buffer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(buffer.status().message()),
              AllOf(HasSubstr("line buffer 'jobs'"), HasSubstr("maxlen"),
                    HasSubstr("at least 1, got 0")));
}

TEST(LineBufferTest, MaxlenOneKeepsTheLastLine) {
  auto buffer = MakeBuffer(1);
  ASSERT_TRUE(buffer->Write("a\nb\n").ok());
  EXPECT_EQ(buffer->maxlen(), 1u);
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("b"));
}

TEST(LineBufferTest, ReadReturnsLinesInWriteOrder) {
  auto buffer = MakeBuffer(10);
  for (int i = 0; i < 5; ++i) buffer->stream() << "line " << i << '\n';
  EXPECT_THAT(Texts(buffer->Read()),
              ElementsAre("line 0", "line 1", "line 2", "line 3", "line 4"));
  EXPECT_EQ(buffer->Size(), 5u);
}

TEST(LineBufferTest, ReadNReturnsTheLastNForEveryN) {
  const size_t kMaxlen = 6;
  auto buffer = MakeBuffer(kMaxlen);
  for (int i = 0; i < 4; ++i) buffer->stream() << i << '\n';
  const std::vector<std::string> all = {"0", "1", "2", "3"};
  for (size_t n = 0; n <= kMaxlen + 2; ++n) {
    size_t expected = std::min(n, all.size());
    std::vector<std::string> last(all.end() - expected, all.end());
    EXPECT_EQ(Texts(buffer->Read(n)), last) << "n = " << n;
  }
}

TEST(LineBufferTest, EvictsBeyondMaxlenAndSizeIsExact) {
  auto buffer = MakeBuffer(3);
  EXPECT_EQ(buffer->Size(), 0u);
  for (int i = 0; i < 7; ++i) {
    buffer->stream() << "m" << i << '\n';
    EXPECT_EQ(buffer->Size(), std::min<size_t>(i + 1, 3));
  }
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("m4", "m5", "m6"));
  EXPECT_THAT(Texts(buffer->Read(2)), ElementsAre("m5", "m6"));
}

TEST(LineBufferTest, ClearForgetsRecordsButKeepsPendingLines) {
  auto buffer = MakeBuffer(4);
  ASSERT_TRUE(buffer->Write("a\nb\npart").ok());
  buffer->Clear();
  EXPECT_EQ(buffer->Size(), 0u);
  EXPECT_THAT(buffer->Read(), IsEmpty());
  EXPECT_THAT(buffer->PendingLines(), ElementsAre(Pair("thread", "part")));
  ASSERT_TRUE(buffer->Write("ial\n").ok());
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("partial"));
}

TEST(LineBufferTest, PartialLineIsPendingUntilItsNewline) {
  auto buffer = MakeBuffer(5);
  ASSERT_TRUE(buffer->Write("Hello, ").ok());
  EXPECT_EQ(buffer->Size(), 0u);
  EXPECT_THAT(buffer->PendingLines(), ElementsAre(Pair("thread", "Hello, ")));
  ASSERT_TRUE(buffer->Write("world").ok());
  ASSERT_TRUE(buffer->Write("!\n").ok());
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("Hello, world!"));
  EXPECT_THAT(buffer->PendingLines(), IsEmpty());
}

TEST(LineBufferTest, EmbeddedNewlinesSplitOneWriteIntoLines) {
  auto buffer = MakeBuffer(10);
  ASSERT_TRUE(buffer->Write("one\ntwo\r\n\nthree\nfour").ok());
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("one", "two", "", "three"));
  EXPECT_THAT(buffer->PendingLines(), ElementsAre(Pair("thread", "four")));
}

TEST(LineBufferTest, SeveralPrintsMakeOneLine) {
  auto buffer = MakeBuffer(10);
  buffer->stream() << "Message" << ' ' << "item" << ' ' << 42 << '.';
  buffer->stream() << " More" << '\n';
  buffer->stream() << 1.5 << '\n';
  EXPECT_THAT(Texts(buffer->Read()),
              ElementsAre("Message item 42. More", "1.5"));
}

TEST(LineBufferTest, CloseFlushesEveryThreadsPendingLineAndIsIdempotent) {
  auto buffer = MakeBuffer(10);
  ASSERT_TRUE(buffer->Write("main partial").ok());
  // The other thread stays alive until the close (a thread that exits
  // delivers its partial line itself).
  std::atomic<bool> written{false}, closed{false};
  std::thread other([&] {
    EXPECT_TRUE(buffer->Write("other partial").ok());
    written = true;
    while (!closed) std::this_thread::yield();
  });
  while (!written) std::this_thread::yield();
  std::unique_ptr<LineWriter::Writer> writer = buffer->NewWriter("explicit");
  ASSERT_TRUE(writer->Write("explicit partial").ok());
  EXPECT_EQ(buffer->Size(), 0u);
  EXPECT_EQ(buffer->PendingLines().size(), 3u);

  ASSERT_TRUE(buffer->Close().ok());
  closed = true;
  other.join();
  std::vector<Record> records = buffer->Read();
  std::vector<std::string> by_sender;
  for (const Record& r : records) by_sender.push_back(r.sender + ": " + r.text);
  EXPECT_THAT(by_sender, UnorderedElementsAre("thread: main partial",
                                              "thread.1: other partial",
                                              "explicit: explicit partial"));
  EXPECT_THAT(buffer->PendingLines(), IsEmpty());

  ASSERT_TRUE(buffer->Close().ok());  // nothing new: nothing stored
  EXPECT_EQ(buffer->Size(), 3u);
  ASSERT_TRUE(buffer->Write("after\n").ok());  // still usable
  EXPECT_EQ(buffer->Size(), 4u);
}

TEST(LineBufferTest, FourThreadsTenLinesIntoTenKeepsTheLastTenWhole) {
  auto buffer = MakeBuffer(10);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&buffer, t] {
      for (int i = 0; i < 10; ++i) {
        buffer->stream() << "thread " << t << " line " << i << '\n';
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), 10u);
  EXPECT_EQ(buffer->Size(), 10u);
  std::map<std::string, int> last_line_of_sender;
  for (const Record& r : records) {
    int t, i;
    ASSERT_EQ(std::sscanf(r.text.c_str(), "thread %d line %d", &t, &i), 2)
        << r.text;
    ASSERT_EQ(r.text, absl::StrCat("thread ", t, " line ", i));
    // Lines of one thread stay in order.
    auto [it, inserted] = last_line_of_sender.emplace(r.sender, i);
    if (!inserted) {
      EXPECT_GT(i, it->second) << r.sender;
      it->second = i;
    }
  }
}

// A unique, self-checking line "tT iI cCHECK payload-P": thread, index and
// a checksum of both. LineTail is what follows "tT iI".
std::string LineTail(int thread, int index) {
  uint32_t check = static_cast<uint32_t>(thread) * 2654435761u ^
                   static_cast<uint32_t>(index) * 40503u;
  return absl::StrFormat(" c%08x payload-%d", check, index % 97);
}
std::string UniqueLine(int thread, int index) {
  return absl::StrCat("t", thread, " i", index, LineTail(thread, index));
}

// 100k lines per thread, scaled down under the sanitizers to keep the test
// to seconds: ThreadSanitizer instruments every access (about 10x slower),
// AddressSanitizer every allocation and copy. The shape (8 threads, unique
// lines, full verification) is the same.
#if SYNCSTREAM_TSAN || SYNCSTREAM_ASAN
constexpr int kLinesPerThread = 10000;
#else
constexpr int kLinesPerThread = 100000;
#endif

TEST(LineBufferTest, EightThreadsManyLinesNothingLostGluedOrReordered) {
  const int kThreads = 8;
  const size_t kTotal = static_cast<size_t>(kThreads) * kLinesPerThread;
  auto buffer = MakeBuffer(kTotal);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&buffer, t] {
      for (int i = 0; i < kLinesPerThread; ++i) {
        // Split every line over several insertions to exercise the
        // per-thread partial line.
        buffer->stream() << "t" << t << " i" << i << LineTail(t, i) << '\n';
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), kTotal);
  ASSERT_EQ(buffer->Size(), kTotal);
  std::vector<int> next_index(kThreads, 0);
  std::vector<std::string> sender_of(kThreads);
  for (const Record& r : records) {
    ASSERT_TRUE(r.is_line());
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(r.text.c_str(), "t%d i%d", &t, &i), 2) << r.text;
    ASSERT_TRUE(t >= 0 && t < kThreads) << r.text;
    ASSERT_EQ(r.text, UniqueLine(t, i)) << "garbled or glued";
    ASSERT_EQ(i, next_index[t]) << "thread " << t << " out of order";
    ++next_index[t];
    if (sender_of[t].empty()) sender_of[t] = r.sender;
    ASSERT_EQ(r.sender, sender_of[t]);
    ASSERT_EQ(r.sequence, static_cast<uint64_t>(i));
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next_index[t], kLinesPerThread);
  EXPECT_THAT(buffer->PendingLines(), IsEmpty());
}

TEST(LineBufferTest, FollowerSeesWholeLinesInOrderWhileThreadsWrite) {
  const int kThreads = 4;
  const int kLines = 5000;
  auto buffer = MakeBuffer(1024);
  std::atomic<bool> done{false};
  std::vector<std::string> problems;
  size_t seen = 0;
  uint64_t skipped_total = 0;
  std::thread follower([&] {
    LineBuffer::Cursor next;
    std::map<std::string, uint64_t> last_sequence;
    for (;;) {
      bool finished = done.load();
      uint64_t skipped = 0;
      std::vector<Record> batch = buffer->ReadFrom(next, 256, &next, &skipped);
      skipped_total += skipped;
      for (const Record& r : batch) {
        ++seen;
        int t = -1, i = -1;
        if (std::sscanf(r.text.c_str(), "t%d i%d", &t, &i) != 2 ||
            r.text != UniqueLine(t, i)) {
          problems.push_back("garbled: " + r.text);
        }
        auto it = last_sequence.find(r.sender);
        if (it != last_sequence.end() && r.sequence <= it->second) {
          problems.push_back("out of order: " + r.text);
        }
        last_sequence[r.sender] = r.sequence;
      }
      if (finished && batch.empty() && next.Covers(buffer->end_cursor())) {
        break;
      }
      if (batch.empty()) buffer->WaitForAppend(next, absl::Milliseconds(50));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&buffer, t] {
      for (int i = 0; i < kLines; ++i) {
        ASSERT_TRUE(buffer->Write(UniqueLine(t, i) + "\n").ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  done.store(true);
  follower.join();
  EXPECT_THAT(problems, IsEmpty());
  // Each writer's lines beyond the last 1024 of that writer may have been
  // evicted before the follower read them; it is told of every one.
  EXPECT_GT(seen, 0u);
  EXPECT_EQ(seen + skipped_total, static_cast<size_t>(kThreads * kLines));
}

TEST(LineBufferTest, WaitForAppendTimesOutWithoutWrites) {
  auto buffer = MakeBuffer(4);
  const LineBuffer::Cursor start = buffer->end_cursor();
  EXPECT_FALSE(buffer->WaitForAppend(start, absl::Milliseconds(20)));
  ASSERT_TRUE(buffer->Write("x\n").ok());
  EXPECT_TRUE(buffer->WaitForAppend(start, absl::ZeroDuration()));
  EXPECT_FALSE(buffer->WaitForAppend(buffer->end_cursor(), absl::ZeroDuration()));
}

void ThrowingHelperForTrace() { throw std::invalid_argument("bad input 7"); }

TEST(LineBufferTest, SendErrorOfExceptionStoresMessageAndTrace) {
  auto buffer = MakeBuffer(5);
  ASSERT_TRUE(buffer->Write("before").ok());
  try {
    ThrowingHelperForTrace();
  } catch (const std::exception& e) {
    ASSERT_TRUE(buffer->SendError(e).ok());
  }
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "before");  // the partial line is flushed first
  const Record& error = records[1];
  EXPECT_TRUE(error.is_error());
  EXPECT_EQ(error.sender, "thread");
  EXPECT_EQ(error.text, "std::invalid_argument: bad input 7");
  ASSERT_THAT(error.trace, Not(IsEmpty()));
  EXPECT_THAT(error.trace[0], HasSubstr("SendErrorOfException"));
  EXPECT_THAT(FormatRecord(error),
              HasSubstr("Error from thread: std::invalid_argument: bad input 7\n  #0 "));
}

TEST(LineBufferTest, SendErrorOfStatusAndWarningStoreMessageAndTrace) {
  auto buffer = MakeBuffer(5);
  ASSERT_TRUE(buffer->SendError(absl::NotFoundError("no file 'x'")).ok());
  ASSERT_TRUE(buffer->SendWarning("disk almost full").ok());
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].is_error());
  EXPECT_EQ(records[0].text, "NOT_FOUND: no file 'x'");
  ASSERT_THAT(records[0].trace, Not(IsEmpty()));
  EXPECT_THAT(records[0].trace[0], HasSubstr("SendErrorOfStatus"));
  EXPECT_TRUE(records[1].is_warning());
  EXPECT_EQ(records[1].text, "disk almost full");
  EXPECT_THAT(records[1].trace, Not(IsEmpty()));
  EXPECT_THAT(FormatRecord(records[1]),
              HasSubstr("Warning from thread: disk almost full"));
}

TEST(LineBufferTest, OptionsNameTheSendersAndTagTheRecords) {
  LineBufferOptions options;
  options.name = "worker";
  options.type = "log";
  options.max_line_length = 8;
  auto buffer = MakeBuffer(10, options);
  ASSERT_TRUE(buffer->Write("0123456789ab\n").ok());
  std::thread([&] { ASSERT_TRUE(buffer->Write("x\n").ok()); }).join();
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].text, "01234567");
  EXPECT_TRUE(records[0].continued);
  EXPECT_EQ(records[1].text, "89ab");
  EXPECT_FALSE(records[1].continued);
  EXPECT_EQ(records[2].sender, "worker.1");
  for (const Record& r : records) EXPECT_EQ(r.type, "log");
}

TEST(LineBufferTest, LinesKeepEveryFieldInlineAndLong) {
  // Lines reach the store from the writer's bytes (PublishLine), short ones
  // inline in the slot and long ones (over 136 bytes) out of line.
  LineBufferOptions options;
  options.type = "t";
  auto buffer = MakeBuffer(10, options);
  const std::string long_line(300, 'L');
  const absl::Time before = testing::RealtimeNow();
  ASSERT_TRUE(buffer->Write("short\n" + long_line + "\nx").ok());
  ASSERT_TRUE(buffer->Flush().ok());
  const absl::Time after = testing::RealtimeNow();
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].text, "short");
  EXPECT_EQ(records[1].text, long_line);
  EXPECT_EQ(records[2].text, "x");
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_TRUE(records[i].is_line());
    EXPECT_FALSE(records[i].continued);
    EXPECT_TRUE(records[i].trace.empty());
    EXPECT_EQ(records[i].sender, "thread");
    EXPECT_EQ(records[i].type, "t");
    EXPECT_EQ(records[i].sequence, i);
    EXPECT_GE(records[i].timestamp, before - testing::kTimestampTolerance);
    EXPECT_LE(records[i].timestamp, after + testing::kTimestampTolerance);
  }
}

// Writes that follow one another across 4 threads, handed on through one
// atomic (no lock, so turns follow each other within nanoseconds): Read
// returns them in turn order. Every third turn writes two lines in one
// Write, each with its own order key.
TEST(LineBufferTest, CausalChainOfWritesAcrossThreadsIsReadInOrder) {
  constexpr int kThreads = 4;
  constexpr int kTurns = 3000;
  auto buffer = MakeBuffer(100000);
  std::atomic<int> next_turn{0};
  std::atomic<bool> timed_out{false};
  const absl::Time deadline = DeadlineAfter(absl::Seconds(60));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int turn = t; turn < kTurns; turn += kThreads) {
        while (next_turn.load(std::memory_order_acquire) != turn) {
          if (timed_out.load() || absl::Now() > deadline) {
            timed_out = true;
            return;
          }
          std::this_thread::yield();
        }
        const std::string text = turn % 3 == 0
                                     ? absl::StrCat(turn, "a\n", turn, "b\n")
                                     : absl::StrCat(turn, "\n");
        ASSERT_TRUE(buffer->Write(text).ok());
        next_turn.store(turn + 1, std::memory_order_release);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_FALSE(timed_out) << "turns did not finish within 60 s";
  std::vector<std::string> expected;
  for (int turn = 0; turn < kTurns; ++turn) {
    if (turn % 3 == 0) {
      expected.push_back(absl::StrCat(turn, "a"));
      expected.push_back(absl::StrCat(turn, "b"));
    } else {
      expected.push_back(absl::StrCat(turn));
    }
  }
  std::vector<std::string> texts;
  for (const Record& r : buffer->Read()) texts.push_back(r.text);
  EXPECT_EQ(texts, expected);
}

// Line timestamps (taken from the same clock read as the order key) lie
// within the contract's tolerance of the wall clock around the Write, on the
// clock source of this test target (clock_tests.bzl), and never decrease
// within one writer.
TEST(LineBufferTest, TimestampsFollowTheWallClockAndNeverDecreasePerWriter) {
  testing::ExpectRequestedClockSource();
  constexpr int kThreads = 2;
  constexpr int kLines = 20000;
  auto buffer = MakeBuffer(kThreads * kLines);
  std::vector<std::vector<std::pair<absl::Time, absl::Time>>> windows(
      kThreads, std::vector<std::pair<absl::Time, absl::Time>>(kLines));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) {
        windows[t][i].first = testing::RealtimeNow();
        ASSERT_TRUE(buffer->Write(absl::StrCat(t, " ", i, "\n")).ok());
        windows[t][i].second = testing::RealtimeNow();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kLines));
  std::map<std::string, absl::Time> last;
  for (const Record& r : records) {
    int t = 0, i = 0;
    ASSERT_EQ(std::sscanf(r.text.c_str(), "%d %d", &t, &i), 2) << r.text;
    ASSERT_TRUE(t >= 0 && t < kThreads && i >= 0 && i < kLines) << r.text;
    EXPECT_GE(r.timestamp, windows[t][i].first - testing::kTimestampTolerance)
        << r.text;
    EXPECT_LE(r.timestamp, windows[t][i].second + testing::kTimestampTolerance)
        << r.text;
    auto it = last.find(r.sender);
    if (it != last.end()) {
      EXPECT_GE(r.timestamp, it->second) << r.text;
    }
    last[r.sender] = r.timestamp;
  }
  EXPECT_EQ(last.size(), static_cast<size_t>(kThreads));
}

TEST(LineBufferTest, ScopedRedirectSendsCoutOfManyThreadsIntoTheBuffer) {
  auto buffer = MakeBuffer(100);
  std::streambuf* original = std::cout.rdbuf();
  {
    ScopedRedirect redirect(*buffer, RedirectStreams::kCout);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < 10; ++i) std::cout << "t" << t << " i" << i << '\n';
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  EXPECT_EQ(std::cout.rdbuf(), original);
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), 30u);
  std::map<std::string, int> next_of_sender;
  for (const Record& r : records) {
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(r.text.c_str(), "t%d i%d", &t, &i), 2) << r.text;
    EXPECT_EQ(r.text, absl::StrCat("t", t, " i", i));
    EXPECT_EQ(i, next_of_sender[r.sender]++);
  }
}

TEST(LineBufferTest, ScopedFdCaptureSendsPrintfAndChildOutputIntoTheBuffer) {
  auto buffer = MakeBuffer(100);
  {
    absl::StatusOr<ScopedFdCapture> capture = ScopedFdCapture::Create(*buffer);
    ASSERT_TRUE(capture.ok()) << capture.status();
    std::printf("printf line\n");
    std::fflush(stdout);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", "echo from sh; echo oops >&2",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Bounded wait for the child (it exits at once).
    int status = 0;
    pid_t done = 0;
    absl::Time deadline = ::syncstream::Now() + absl::Seconds(30);
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           ::syncstream::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    if (done != pid) ::kill(pid, SIGKILL);
    ASSERT_EQ(done, pid) << "the child did not exit within 30 s";
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  std::vector<std::string> out, err;
  for (const Record& r : buffer->Read()) {
    if (r.sender == "stdout") out.push_back(r.text);
    if (r.sender == "stderr") err.push_back(r.text);
  }
  EXPECT_THAT(out, ElementsAre("printf line", "from sh"));
  EXPECT_THAT(err, ElementsAre("oops"));
}

}  // namespace
}  // namespace syncstream
