// LineFileBuffer on a local directory: sync-stream's file tests ported, and
// the disk-damage cases (torn tail, corrupted middle record).
#include "syncstream/file/line_file_buffer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"

namespace syncstream::file {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string NewDir(const char* name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/", name, "-", ::getpid(), "-",
                      RandomNonce() % 1000000);
}

std::vector<std::string> Texts(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) out.push_back(FormatRecord(r));
  return out;
}

std::unique_ptr<LineFileBuffer> OpenBuffer(const std::string& dir,
                                           size_t maxlen) {
  LineFileBufferOptions options;
  options.maxlen = maxlen;
  auto buffer = LineFileBuffer::Open(dir, options);
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  return buffer.ok() ? *std::move(buffer) : nullptr;
}

// Commits `batches` batches of `lines` lines ("BATCH:LINE") through
// `writer`, a segment each; returns the lines in the order written.
std::vector<std::string> CommitBatches(LineFileBuffer& writer, int batches,
                                       int lines) {
  std::vector<std::string> written;
  for (int batch = 0; batch < batches; ++batch) {
    for (int i = 0; i < lines; ++i) {
      written.push_back(absl::StrCat(batch, ":", i));
      writer.stream() << written.back() << "\n";
    }
    EXPECT_TRUE(writer.Commit().ok()) << "batch " << batch;
  }
  return written;
}

std::vector<std::string> SegmentPaths(const std::string& dir) {
  std::vector<std::string> out;
  auto list = LineFileBuffer::ListSegments(dir);
  if (list.ok()) {
    for (const auto& s : *list) out.push_back(dir + "/" + s.name);
  }
  return out;
}

TEST(LineFileBufferTest, RejectsZeroMaxlen) {
  LineFileBufferOptions options;
  options.maxlen = 0;
  EXPECT_EQ(LineFileBuffer::Open(NewDir("zero"), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// sync-stream test_file_buffer: lines come back in order; Read(n) gives the
// last n; only maxlen are kept.
TEST(LineFileBufferTest, ReadOrderAndReadN) {
  auto buffer = OpenBuffer(NewDir("order"), 10);
  ASSERT_TRUE(buffer);
  for (int i = 0; i < 15; ++i) buffer->stream() << "Line: " << i << "\n";
  auto all = buffer->Read();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 10u);
  EXPECT_EQ(FormatRecord(all->front()), "Line: 5");
  EXPECT_EQ(FormatRecord(all->back()), "Line: 14");
  auto last3 = buffer->Read(3);
  ASSERT_TRUE(last3.ok());
  EXPECT_THAT(Texts(*last3), ElementsAre("Line: 12", "Line: 13", "Line: 14"));
  EXPECT_EQ(*buffer->Size(), 10u);
  EXPECT_TRUE(buffer->Read(0)->empty());
}

// sync-stream's multi-print case: several prints make one line; a trailing
// partial line is written at close.
TEST(LineFileBufferTest, MultiPrintMakesOneLineAndPartialLineSurvivesClose) {
  std::string dir = NewDir("multi");
  {
    auto buffer = OpenBuffer(dir, 20);
    ASSERT_TRUE(buffer);
    buffer->stream() << "Multi" << ' ' << "print" << ' ' << 1;
    buffer->stream() << ", continued\n";
    buffer->stream() << "partial at close";
  }
  auto reader = OpenBuffer(dir, 20);
  auto records = reader->Read();
  ASSERT_TRUE(records.ok());
  EXPECT_THAT(Texts(*records),
              ElementsAre("Multi print 1, continued", "partial at close"));
}

TEST(LineFileBufferTest, ErrorRecordKeepsMessageAndTrace) {
  auto buffer = OpenBuffer(NewDir("error"), 10);
  buffer->stream() << "before\n";
  ASSERT_TRUE(buffer->SendError(std::runtime_error("it broke")).ok());
  auto records = buffer->Read();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  const Record& error = (*records)[1];
  EXPECT_TRUE(error.is_error());
  EXPECT_THAT(error.text, HasSubstr("it broke"));
  EXPECT_FALSE(error.trace.empty());
  EXPECT_THAT(FormatRecord(error), HasSubstr("Error from writer"));
}

// sync-stream: 4 processes, each with its own instance, 5 lines each; the
// parent reads all 20.
TEST(LineFileBufferTest, FourProcessesEachWithItsOwnInstance) {
  std::string dir = NewDir("procs");
  ASSERT_TRUE(OpenBuffer(dir, 100));  // creates the directory
  std::vector<ChildProcess> children;
  for (int p = 0; p < 4; ++p) {
    auto child = ChildProcess::Fork([dir, p] {
      LineFileBufferOptions options;
      options.maxlen = 100;
      options.writer.name = absl::StrCat("proc", p);
      auto buffer = LineFileBuffer::Open(dir, options);
      if (!buffer.ok()) return 2;
      for (int i = 0; i < 5; ++i) {
        (*buffer)->stream() << "process " << p << " line " << i << "\n";
      }
      return (*buffer)->Commit().ok() ? 0 : 3;
    });
    ASSERT_TRUE(child.ok()) << child.status();
    children.push_back(*std::move(child));
  }
  for (ChildProcess& child : children) {
    auto status = child.Wait(absl::Seconds(30));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(status->success()) << status->ToString();
  }
  auto reader = OpenBuffer(dir, 100);
  auto records = reader->Read();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 20u);
  std::vector<int> next(4, 0);
  for (const Record& r : *records) {
    int p = r.sender.back() - '0';
    ASSERT_GE(p, 0);
    ASSERT_LT(p, 4);
    EXPECT_EQ(r.text, absl::StrCat("process ", p, " line ", next[p]++));
  }
  EXPECT_THAT(next, ElementsAre(5, 5, 5, 5));
}

// sync-stream's clear rounds: write, clear, write again, several times.
TEST(LineFileBufferTest, ClearRounds) {
  std::string dir = NewDir("clear");
  auto buffer = OpenBuffer(dir, 10);
  auto other = OpenBuffer(dir, 10);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) {
      buffer->stream() << "round " << round << " line " << i << "\n";
    }
    // Visible to other instances once committed.
    ASSERT_TRUE(buffer->Commit().ok());
    EXPECT_EQ(*other->Size(), 4u);
    auto records = other->Read();
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 4u);
    EXPECT_EQ((*records)[0].text, absl::StrCat("round ", round, " line 0"));
    ASSERT_TRUE(other->Clear().ok());
    EXPECT_EQ(*buffer->Size(), 0u);
    EXPECT_TRUE(buffer->Read()->empty());
  }
  // Cleared segments were removed: only the marker is left.
  EXPECT_EQ(SegmentPaths(dir).size(), 1u);
}

TEST(LineFileBufferTest, RotationKeepsDiskBoundedAndMaxlenReadable) {
  std::string dir = NewDir("rotate");
  auto buffer = OpenBuffer(dir, 50);
  for (int batch = 0; batch < 40; ++batch) {
    for (int i = 0; i < 10; ++i) buffer->stream() << batch << ":" << i << "\n";
    ASSERT_TRUE(buffer->Commit().ok());
  }
  // 50 records in batches of 10: at most 6 segments hold them.
  EXPECT_LE(SegmentPaths(dir).size(), 6u);
  auto records = buffer->Read();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 50u);
  EXPECT_EQ(records->front().text, "35:0");
  EXPECT_EQ(records->back().text, "39:9");
}

void DamageFile(const std::string& path, off_t offset, bool truncate) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  if (truncate) {
    ASSERT_EQ(::ftruncate(fd, st.st_size - offset), 0);
  } else {
    char c;
    off_t at = offset >= 0 ? offset : st.st_size + offset;
    ASSERT_EQ(::pread(fd, &c, 1, at), 1);
    c ^= 0x5a;
    ASSERT_EQ(::pwrite(fd, &c, 1, at), 1);
  }
  ::close(fd);
}

class TailDamageTest : public ::testing::TestWithParam<bool> {};

TEST_P(TailDamageTest, TornOrCorruptedTailIsDetectedAndRepaired) {
  const bool truncate = GetParam();
  std::string dir = NewDir("torn");
  auto buffer = OpenBuffer(dir, 100);
  for (int i = 0; i < 10; ++i) buffer->stream() << "line " << i << "\n";
  ASSERT_TRUE(buffer->Commit().ok());
  std::vector<std::string> segments = SegmentPaths(dir);
  ASSERT_EQ(segments.size(), 1u);
  // A writer killed mid-append (no fsync) / a damaged last sector.
  DamageFile(segments[0], truncate ? 5 : -3, truncate);

  auto reader = OpenBuffer(dir, 100);
  ReadReport report;
  auto records = reader->Read(100, &report);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 9u);
  EXPECT_EQ(records->back().text, "line 8");
  ASSERT_EQ(report.damages.size(), 1u);
  EXPECT_TRUE(report.damages[0].damage.torn_tail);

  // The next lock holder cuts the tail off; everything before survives.
  reader->stream() << "after repair\n";
  ASSERT_TRUE(reader->Commit().ok());
  ReadReport clean;
  records = buffer->Read(100, &clean);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(clean.damages.empty());
  ASSERT_EQ(records->size(), 10u);
  EXPECT_EQ((*records)[8].text, "line 8");
  EXPECT_EQ((*records)[9].text, "after repair");
  EXPECT_EQ(*buffer->Size(), 10u);
}

INSTANTIATE_TEST_SUITE_P(TruncatedOrCorrupted, TailDamageTest,
                         ::testing::Bool());

TEST(LineFileBufferTest, CorruptedMiddleRecordIsReportedRestReadable) {
  std::string dir = NewDir("middle");
  auto buffer = OpenBuffer(dir, 100);
  for (int i = 0; i < 10; ++i) buffer->stream() << "first " << i << "\n";
  ASSERT_TRUE(buffer->Commit().ok());
  for (int i = 0; i < 10; ++i) buffer->stream() << "second " << i << "\n";
  ASSERT_TRUE(buffer->Commit().ok());
  std::vector<std::string> segments = SegmentPaths(dir);
  ASSERT_EQ(segments.size(), 2u);
  DamageFile(segments[0], kSegmentHeaderSize + 100, false);
  ReadReport report;
  auto records = buffer->Read(100, &report);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 19u);
  ASSERT_EQ(report.damages.size(), 1u);
  EXPECT_FALSE(report.damages[0].damage.torn_tail);
  EXPECT_EQ(report.damages[0].segment, SegmentFileName(1));
  EXPECT_EQ(records->back().text, "second 9");
  for (const Record& r : *records) EXPECT_THAT(r.text, ::testing::MatchesRegex("(first|second) [0-9]"));
}

TEST(LineFileBufferTest, ReadFromFollowsNewRecords) {
  std::string dir = NewDir("follow");
  auto buffer = OpenBuffer(dir, 100);
  buffer->stream() << "a\nb\n";
  ASSERT_TRUE(buffer->Commit().ok());
  uint64_t next = 0;
  auto first = buffer->ReadFrom(0, &next);
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(Texts(*first), ElementsAre("a", "b"));
  EXPECT_EQ(next, 2u);
  buffer->stream() << "c\n";
  ASSERT_TRUE(buffer->Commit().ok());
  auto more = buffer->ReadFrom(next, &next);
  EXPECT_THAT(Texts(*more), ElementsAre("c"));
  EXPECT_EQ(next, 3u);
}

// readdir is not a snapshot of the directory: a segment linked while a
// listing runs can be left out of it while a later one is returned (ext4
// lists in hash order). The listing hook drops seg-2 as such a listing does;
// its records must still be read, in place, by a follower and by Read.
TEST(LineFileBufferTest, SegmentMissingFromTheListingIsStillRead) {
  std::string dir = NewDir("missed");
  auto writer = OpenBuffer(dir, 100);
  ASSERT_TRUE(writer);
  const std::vector<std::string> expected = CommitBatches(*writer, 3, 4);
  ASSERT_EQ(SegmentPaths(dir).size(), 3u);
  LineFileBufferOptions options;
  options.maxlen = 100;
  const std::string missed = SegmentFileName(2);
  options.after_listing_for_testing = [missed](std::vector<std::string>* names) {
    names->erase(std::remove(names->begin(), names->end(), missed),
                 names->end());
  };
  auto reader = LineFileBuffer::Open(dir, options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  uint64_t next = 0;
  ReadReport report;
  auto followed = (*reader)->ReadFrom(0, &next, &report);
  ASSERT_TRUE(followed.ok()) << followed.status();
  EXPECT_EQ(next, 12u);
  EXPECT_EQ(Texts(*followed), expected);
  EXPECT_TRUE(report.damages.empty());
  EXPECT_TRUE(report.unreadable_segments.empty());
  // From the middle of the missed segment.
  auto tail = (*reader)->ReadFrom(6, &next);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(Texts(*tail),
            std::vector<std::string>(expected.begin() + 6, expected.end()));
  auto all = (*reader)->Read();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(Texts(*all), expected);
  // A writer whose listing misses it neither reuses nor skips its indexes.
  (*reader)->stream() << "3:0\n";
  ASSERT_TRUE((*reader)->Commit().ok());
  auto after = writer->ReadFrom(12, &next);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(Texts(*after), ElementsAre("3:0"));
  EXPECT_EQ(next, 13u);
}

// `syncstream file inspect` lists segments the way readers do: a
// generation between two listed ones is looked up by name (the listing may
// have missed it), and one that is really gone is left out, not shown as a
// problem.
TEST(LineFileBufferTest, ListSegmentsLeavesOutAGenerationThatIsGone) {
  std::string dir = NewDir("gone");
  auto writer = OpenBuffer(dir, 100);
  ASSERT_TRUE(writer);
  CommitBatches(*writer, 3, 1);
  auto listed = LineFileBuffer::ListSegments(dir);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  ASSERT_EQ(::unlink((dir + "/" + SegmentFileName(2)).c_str()), 0);
  listed = LineFileBuffer::ListSegments(dir);
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<uint64_t> generations;
  for (const SegmentInfo& info : *listed) {
    generations.push_back(info.generation);
    EXPECT_TRUE(info.header_ok) << info.name << ": " << info.problem;
  }
  EXPECT_THAT(generations, ElementsAre(1u, 3u));
  EXPECT_TRUE(absl::IsNotFound(
      LineFileBuffer::ListSegments(dir + "/no-such-dir").status()));
}

// The same race for real: a follower lists the directory while another
// process commits one-record batches into it (up to 2000 segments, so a
// listing takes several getdents calls; before the fix a follower stepped
// over a segment within the first 1100 on ext4). Every ReadFrom must return
// exactly the records between `from` and `next`, in order: none stepped
// over.
TEST(LineFileBufferTest, FollowerMissesNoSegmentWhileAnotherProcessCommits) {
  constexpr int kBatches = 2000;
  std::string dir = NewDir("follow-race");
  auto reader = OpenBuffer(dir, 2 * kBatches);
  ASSERT_TRUE(reader);
  auto child = ChildProcess::Fork([dir] {
    LineFileBufferOptions options;
    options.maxlen = 2 * kBatches;
    options.flush_interval = absl::Hours(1);
    auto buffer = LineFileBuffer::Open(dir, options);
    if (!buffer.ok()) return 2;
    for (int i = 0; i < kBatches; ++i) {
      (*buffer)->stream() << "line " << i << "\n";
      if (!(*buffer)->Commit().ok()) return 3;
    }
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  uint64_t next = 0;
  int reads = 0;
  const absl::Time deadline = ::syncstream::Now() + absl::Minutes(2);
  while (next < kBatches && ::syncstream::Now() < deadline) {
    const uint64_t from = next;
    ReadReport report;
    auto records = reader->ReadFrom(from, &next, &report);
    ASSERT_TRUE(records.ok()) << records.status();
    ++reads;
    ASSERT_TRUE(report.damages.empty());
    ASSERT_TRUE(report.unreadable_segments.empty());
    ASSERT_EQ(records->size(), next - from)
        << "records " << from << ".." << next << " stepped over after "
        << reads << " reads";
    for (size_t i = 0; i < records->size(); ++i) {
      ASSERT_EQ((*records)[i].text, absl::StrCat("line ", from + i));
    }
  }
  EXPECT_EQ(next, static_cast<uint64_t>(kBatches));
  auto status = child->Wait(absl::Minutes(1));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->success()) << status->ToString();
}

TEST(LineFileBufferTest, FlusherCommitsWithoutExplicitCommit) {
  std::string dir = NewDir("flusher");
  LineFileBufferOptions options;
  options.maxlen = 10;
  options.flush_interval = absl::Milliseconds(5);
  auto writer = LineFileBuffer::Open(dir, options);
  ASSERT_TRUE(writer.ok());
  (*writer)->stream() << "queued\n";
  auto reader = OpenBuffer(dir, 10);
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(10);
  uint64_t next = 0;
  std::vector<Record> seen;
  while (seen.empty() && ::syncstream::Now() < deadline) {
    seen = *reader->ReadFrom(0, &next);
    if (seen.empty()) absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].text, "queued");
}

TEST(LineFileBufferTest, DurabilityAlwaysCommitsBeforeWriteReturns) {
  std::string dir = NewDir("always");
  LineFileBufferOptions options;
  options.maxlen = 10;
  options.durability = Durability::kAlways;
  options.flush_interval = absl::Hours(1);  // no help from the flusher
  auto writer = LineFileBuffer::Open(dir, options);
  ASSERT_TRUE(writer.ok());
  auto reader = OpenBuffer(dir, 10);
  uint64_t next = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*writer)->Write(absl::StrCat("synced ", i, "\n")).ok());
    auto seen = reader->ReadFrom(next, &next);
    ASSERT_TRUE(seen.ok());
    ASSERT_EQ(seen->size(), 1u);
    EXPECT_EQ((*seen)[0].text, absl::StrCat("synced ", i));
  }
  EXPECT_EQ((*writer)->committed_records(), 3u);
}

TEST(LineFileBufferTest, LockTimeoutKeepsRecordsQueued) {
  std::string dir = NewDir("timeout");
  LineFileBufferOptions options;
  options.maxlen = 10;
  options.lock_timeout = absl::Milliseconds(100);
  options.flush_interval = absl::Hours(1);
  auto writer = LineFileBuffer::Open(dir, options);
  ASSERT_TRUE(writer.ok());
  (*writer)->stream() << "waits for the lock\n";
  {
    LockFile other(LineFileBuffer::LockPath(dir), {"other-host", absl::Seconds(30)});
    auto held = other.Acquire(absl::Seconds(5));
    ASSERT_TRUE(held.ok());
    absl::Status status = (*writer)->Commit();
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("other-host"));
    EXPECT_EQ((*writer)->committed_records(), 0u);
  }
  ASSERT_TRUE((*writer)->Commit().ok());
  auto reader = OpenBuffer(dir, 10);
  auto records = reader->Read();
  ASSERT_TRUE(records.ok());
  EXPECT_THAT(Texts(*records), ElementsAre("waits for the lock"));
}

// A Write that commits (a full batch) and cannot have the lock in time
// returns DeadlineExceeded, but the line is queued: the status says it was
// kept, and a caller who trusts it (no retry) gets the line exactly once.
TEST(LineFileBufferTest, TimedOutWriteSaysTheLineWasKept) {
  std::string dir = NewDir("kept");
  LineFileBufferOptions options;
  options.maxlen = 10;
  options.max_batch_records = 1;  // every line commits
  options.lock_timeout = absl::Milliseconds(100);
  options.flush_interval = absl::Hours(1);
  auto writer = LineFileBuffer::Open(dir, options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_FALSE(LineFileBuffer::LineKept(absl::OkStatus()));
  {
    LockFile other(LineFileBuffer::LockPath(dir),
                   {"other-host", absl::Seconds(30)});
    auto held = other.Acquire(absl::Seconds(5));
    ASSERT_TRUE(held.ok()) << held.status();
    absl::Status status = (*writer)->Write("only once\n");
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
    EXPECT_TRUE(LineFileBuffer::LineKept(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("line kept"));
    EXPECT_THAT(std::string(status.message()), HasSubstr("other-host"));
    // A failure that is not a writing call's says nothing of the kind.
    EXPECT_FALSE(LineFileBuffer::LineKept((*writer)->Commit()));
  }
  ASSERT_TRUE((*writer)->Commit().ok());
  auto records = OpenBuffer(dir, 10)->Read();
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(Texts(*records), ElementsAre("only once"));
}

// Lines on a shared disk may hold anything: by default only the owner can
// read them, whatever the umask; share_with_group opens them to the
// directory's group (setgid directory) and no further.
TEST(LineFileBufferTest, FilesAreOwnerOnlyUnlessSharedWithTheGroup) {
  const mode_t old_umask = ::umask(0);  // the widest: nothing masked
  for (bool shared : {false, true}) {
    SCOPED_TRACE(shared ? "share_with_group" : "default");
    std::string dir = NewDir(shared ? "mode-group" : "mode-owner");
    LineFileBufferOptions options;
    options.maxlen = 10;
    options.share_with_group = shared;
    mode_t lock_mode = 0;
    const std::string lock_path = LineFileBuffer::LockPath(dir);
    options.before_link_for_testing = [&lock_mode, lock_path] {
      struct stat st;
      if (::stat(lock_path.c_str(), &st) == 0) lock_mode = st.st_mode & 07777;
    };
    auto buffer = LineFileBuffer::Open(dir, options);
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    (*buffer)->stream() << "secret\n";
    ASSERT_TRUE((*buffer)->Commit().ok());
    struct stat st;
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, shared ? 02770u : 0700u);
    std::vector<std::string> segments = SegmentPaths(dir);
    ASSERT_EQ(segments.size(), 1u);
    ASSERT_EQ(::stat(segments[0].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, shared ? 0660u : 0600u);
    EXPECT_EQ(lock_mode, shared ? 0660u : 0600u);
  }
  ::umask(old_umask);
}

// A FIFO (or a link) named like the next segment, or like the lock, must
// not hang a writer or a reader: it is refused as not a regular file,
// reported, and skipped. The writer runs in a child so that a hang fails
// the test within its timeout instead of blocking it.
TEST(LineFileBufferTest, FifoOrLinkNamedLikeASegmentOrTheLockHangsNoOne) {
  std::string dir = NewDir("fifo");
  {
    // Closed before the fork: its flusher thread is gone (threads and fork
    // do not mix).
    auto writer = OpenBuffer(dir, 100);
    ASSERT_TRUE(writer);
    CommitBatches(*writer, 1, 2);
  }
  const std::string fifo = dir + "/" + SegmentFileName(2);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::symlink("/etc/hostname",
                      (dir + "/" + SegmentFileName(3)).c_str()), 0);
  ASSERT_EQ(::mkfifo(LineFileBuffer::LockPath(dir).c_str(), 0600), 0);
  auto child = ChildProcess::Fork([dir] {
    LineFileBufferOptions options;
    options.maxlen = 100;
    options.lease = absl::Milliseconds(200);  // the FIFO lock is replaced
    options.lock_timeout = absl::Seconds(20);
    auto buffer = LineFileBuffer::Open(dir, options);
    if (!buffer.ok()) return 2;
    (*buffer)->stream() << "after the fifo\n";
    absl::Status status = (*buffer)->Commit();
    if (!status.ok()) {
      std::fprintf(stderr, "commit: %s\n", status.ToString().c_str());
      return 3;
    }
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  auto status = child->Wait(absl::Seconds(60));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->success()) << status->ToString();

  auto reader = OpenBuffer(dir, 100);
  ReadReport report;
  auto records = reader->Read(100, &report);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(Texts(*records), ElementsAre("0:0", "0:1", "after the fifo"));
  ASSERT_EQ(report.unreadable_segments.size(), 2u);
  EXPECT_THAT(report.unreadable_segments[0], HasSubstr("a symbolic link"));
  EXPECT_THAT(report.unreadable_segments[1], HasSubstr("a FIFO"));
  auto listed = LineFileBuffer::ListSegments(dir, /*check_frames=*/true);
  ASSERT_TRUE(listed.ok()) << listed.status();
  // seg-1, the FIFO, the link, the generation burned when the FIFO lock
  // was replaced (a takeover), the new line.
  ASSERT_EQ(listed->size(), 5u);
  EXPECT_THAT((*listed)[1].problem, HasSubstr("not a regular file (a FIFO)"));
  EXPECT_THAT((*listed)[2].problem, HasSubstr("(a symbolic link)"));
  EXPECT_TRUE(listed->back().header_ok);
  EXPECT_EQ(listed->back().valid_records, 1u);
}

// A follower told how many records were rotated away before it read them
// (not left to subtract indexes); damage is not counted as rotation.
TEST(LineFileBufferTest, ReadFromCountsRecordsRotatedAwayBeforeItRead) {
  std::string dir = NewDir("rotated");
  auto writer = OpenBuffer(dir, 10);
  ASSERT_TRUE(writer);
  CommitBatches(*writer, 1, 5);
  LineFileBufferOptions options;
  options.maxlen = std::numeric_limits<size_t>::max();
  auto follower = LineFileBuffer::Open(dir, options);
  ASSERT_TRUE(follower.ok());
  uint64_t next = 0;
  ReadReport report;
  auto records = (*follower)->ReadFrom(0, &next, &report);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 5u);
  EXPECT_EQ(report.rotated_away, 0u);
  CommitBatches(*writer, 5, 10);  // 50 more; maxlen 10 keeps the last 10
  records = (*follower)->ReadFrom(next, &next, &report);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(next, 55u);
  EXPECT_EQ(records->size(), 10u);
  EXPECT_EQ(records->front().text, "4:0");
  EXPECT_EQ(report.rotated_away, 40u);
  EXPECT_TRUE(report.damages.empty());
}

// `syncstream file inspect` checks frames as readers do: a damaged middle
// frame and a tail cut at a frame boundary (no bad frame, only a short
// file) are both shown.
TEST(LineFileBufferTest, ListSegmentsWithFrameChecksShowsDamage) {
  std::string dir = NewDir("inspect");
  auto writer = OpenBuffer(dir, 100);
  ASSERT_TRUE(writer);
  CommitBatches(*writer, 2, 10);
  std::vector<std::string> segments = SegmentPaths(dir);
  ASSERT_EQ(segments.size(), 2u);
  DamageFile(segments[0], kSegmentHeaderSize + 20, false);
  // Cut the last frame off whole.
  auto decoded = LineFileBuffer::ListSegments(dir);
  ASSERT_TRUE(decoded.ok());
  const SegmentHeader& second = (*decoded)[1].header;
  ASSERT_EQ(::truncate(segments[1].c_str(), second.last_frame_offset), 0);
  auto plain = LineFileBuffer::ListSegments(dir);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE((*plain)[0].damages.empty());  // headers only
  auto checked = LineFileBuffer::ListSegments(dir, /*check_frames=*/true);
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_EQ(checked->size(), 2u);
  const SegmentInfo& first = (*checked)[0];
  ASSERT_EQ(first.damages.size(), 1u);
  EXPECT_FALSE(first.damages[0].torn_tail);
  EXPECT_EQ(first.valid_records, 9u);
  const SegmentInfo& cut = (*checked)[1];
  ASSERT_EQ(cut.damages.size(), 1u);
  EXPECT_TRUE(cut.damages[0].torn_tail);
  EXPECT_EQ(cut.damages[0].offset, second.last_frame_offset);
  EXPECT_EQ(cut.valid_records, 9u);
}

}  // namespace
}  // namespace syncstream::file
