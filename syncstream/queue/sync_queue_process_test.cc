// The queue across real processes: fork and exec, fan-out and fan-in, and
// every death case with a real SIGKILL. The exec'd program is
// queue_test_helper (its path is argv[1]).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <iostream>
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/queue/internal/layout.h"
#include "syncstream/queue/sync_queue.h"
#include "syncstream/queue/testing/queue_test_util.h"
#include "syncstream/core/deadline.h"

namespace syncstream {
namespace {

using ::testing::HasSubstr;
using namespace queue_testing;

std::string helper_path;  // set by main

// Starts the helper's "append-once" as `sender` on queue `name`, with a test
// hook that stops it (SIGSTOP) at one point of its append, and waits until
// it has stopped. Returns its pid, or -1 (a test failure recorded) if it did
// not stop in time.
pid_t SpawnStoppedAppender(const std::string& name, const std::string& sender,
                           const std::string& hook) {
  const pid_t pid = Spawn({helper_path, "append-once", name, sender},
                          {"SYNCSTREAM_QUEUE_TEST_HOOK=" + hook});
  const absl::Status stopped = WaitForStop(pid, absl::Seconds(20));
  EXPECT_TRUE(stopped.ok()) << "appender '" << sender << "' (" << hook
                            << "): " << stopped;
  return stopped.ok() ? pid : -1;
}

// `writer` ("slow", stopped after its claim): reader `r` gets nothing while
// it is stopped (not whatever the claimed space holds), and its message once
// it is continued; it then exits 0.
void ExpectWaitedForThenDelivered(QueueParticipant& r, pid_t writer) {
  auto none = r.Pop(PopOptions{.timeout = absl::Milliseconds(50)});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value()) << "delivered '" << (*none)->body << "' from '"
                                  << (*none)->sender << "'";
  ASSERT_EQ(::kill(writer, SIGCONT), 0);
  auto m = r.Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->sender, "slow");
  EXPECT_EQ((*m)->body, "from slow");
  auto code = WaitForExit(writer, absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

enum class Mode { kFork, kExec };

class ProcessTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override { name_ = UniqueQueueName("p"); }
  void TearDown() override { SyncQueue::Remove(name_).IgnoreError(); }

  pid_t StartWriter(const std::string& writer, int count) {
    if (GetParam() == Mode::kFork) {
      return ForkRun([=] { return RunWriter(name_, writer, count); });
    }
    return Spawn({helper_path, "write", name_, writer, std::to_string(count)});
  }
  pid_t StartReader(const std::string& reader, const std::vector<std::string>& writers,
                    int count) {
    if (GetParam() == Mode::kFork) {
      return ForkRun([=] { return RunReader(name_, reader, writers, count); });
    }
    std::vector<std::string> argv = {helper_path, "read", name_, reader, std::to_string(count)};
    argv.insert(argv.end(), writers.begin(), writers.end());
    return Spawn(argv);
  }
  // Waits until `n` participants are attached (readers must be attached
  // before writers start, or they would join late).
  void WaitForParticipants(SyncQueue& q, size_t n) {
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto snap = q.Inspect();
          return snap.ok() && snap->participants.size() >= n;
        },
        absl::Seconds(20)));
  }
  void ExpectAllExitZero(const std::vector<pid_t>& pids) {
    for (pid_t pid : pids) {
      ASSERT_GT(pid, 0);
      auto code = WaitForExit(pid, absl::Seconds(45));
      ASSERT_TRUE(code.ok()) << code.status();
      EXPECT_EQ(*code, 0) << "child " << pid;
    }
  }
  std::string name_;
};

TEST_P(ProcessTest, OneWriterThreeReadersEachReadEveryMessageOnce) {
  auto q = SyncQueue::Create(name_, 16 * 1024);  // small: wraps and blocks
  ASSERT_TRUE(q.ok());
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) pids.push_back(StartReader("r" + std::to_string(i), {"w"}, 20000));
  WaitForParticipants(*q, 3);
  pids.push_back(StartWriter("w", 20000));
  ExpectAllExitZero(pids);
}

TEST_P(ProcessTest, FourWritersOneReaderGetsEachWritersOrder) {
  auto q = SyncQueue::Create(name_, 16 * 1024);
  ASSERT_TRUE(q.ok());
  std::vector<std::string> writers = {"w0", "w1", "w2", "w3"};
  std::vector<pid_t> pids = {StartReader("r", writers, 5000)};
  WaitForParticipants(*q, 1);
  for (const auto& w : writers) pids.push_back(StartWriter(w, 5000));
  ExpectAllExitZero(pids);
}

// One writer whose bodies are full of frame words for the next lap, at the
// positions where its frames of that lap go (HostileBodies), pausing after
// every claim before writing its headers; one reader keeping up. Each lap,
// the reader meets claims whose header is not written yet, and space is
// zeroed before it is handed out (layout.h): it finds zeros there and waits.
// Layout 4 did not zero: its reader took the old bytes for a frame and
// failed with "bad length".
class HostileBodiesTest : public ::testing::Test {
 protected:
  // Also after a failed assertion: no writer left running, no segment left.
  void TearDown() override {
    if (writer_ > 0) KillAndReap(writer_);
    SyncQueue::Remove(name_).IgnoreError();
  }
  const std::string name_ = UniqueQueueName("h");
  pid_t writer_ = -1;  // until reaped
};

TEST_F(HostileBodiesTest, BytesOfEarlierLapsNeverPassForFrames) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok()) << q.status();
  auto reader = q->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(reader.ok());
  constexpr int kCount = 2000;  // 80 laps
  writer_ = Spawn({helper_path, "write-hostile", name_, std::to_string(kCount)},
                  {"SYNCSTREAM_QUEUE_TEST_HOOK=pause-after-claim"});
  ASSERT_GT(writer_, 0);
  HostileBodies expected(q->capacity_bytes());
  QueueMessage m;
  for (int i = 0; i < kCount; ++i) {
    auto got = reader->PopInto(&m, PopOptions{.timeout = absl::Seconds(20)});
    ASSERT_TRUE(got.ok()) << "message " << i << ": " << got.status();
    ASSERT_TRUE(*got) << "message " << i << " did not come";
    ASSERT_EQ(m.sender, HostileBodies::kSender);
    ASSERT_EQ(m.body, expected.Next()) << "message " << i;
  }
  auto code = WaitForExit(writer_, absl::Seconds(30));  // reaps, or kills and reaps
  writer_ = -1;
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

INSTANTIATE_TEST_SUITE_P(ForkAndExec, ProcessTest,
                         ::testing::Values(Mode::kFork, Mode::kExec),
                         [](const auto& info) {
                           return info.param == Mode::kFork ? std::string("Fork")
                                                            : std::string("Exec");
                         });

class DeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = UniqueQueueName("d");
    auto q = SyncQueue::Create(name_, 2048);
    ASSERT_TRUE(q.ok());
    queue_ = std::make_unique<SyncQueue>(*std::move(q));
  }
  void TearDown() override { SyncQueue::Remove(name_).IgnoreError(); }
  std::string name_;
  std::unique_ptr<SyncQueue> queue_;
};

TEST_F(DeathTest, DeadReaderStopsHoldingSpace) {
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  pid_t reader = ForkRun([&] {
    auto q = SyncQueue::Open(name_);
    if (!q.ok()) return 2;
    auto r = q->Attach("sleepy", QueueRole::kReader);
    if (!r.ok()) return 3;
    ::pause();  // never reads
    return 0;
  });
  ASSERT_TRUE(WaitUntil([&] { return queue_->Inspect()->participants.size() == 2; },
                        absl::Seconds(20)));
  int appended = 0;
  while (w->Append("t", std::string(100, 'x')).ok()) ++appended;
  ASSERT_GT(appended, 0);
  KillAndReap(reader);
  // The dead reader's cursor is released when space is needed.
  absl::Status st = w->Append("t", "after the reader died",
                              AppendOptions{.block = true, .timeout = absl::Seconds(10)});
  EXPECT_TRUE(st.ok()) << st;
  auto snap = queue_->Inspect();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->participants.size(), 1u);
  EXPECT_EQ(snap->released_participants, 1u);
}

// A reader that died just after a failed non-blocking append looked for
// dead readers: the next non-blocking append, at once, finds it dead.
TEST_F(DeathTest, NonBlockingAppendRightAfterAReadersDeathFindsTheSpace) {
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  pid_t reader = ForkRun([&] {
    auto q = SyncQueue::Open(name_);
    if (!q.ok()) return 2;
    auto r = q->Attach("sleepy", QueueRole::kReader);
    if (!r.ok()) return 3;
    ::pause();  // never reads
    return 0;
  });
  ASSERT_TRUE(WaitUntil([&] { return queue_->Inspect()->participants.size() == 2; },
                        absl::Seconds(20)));
  absl::Status st;
  while ((st = w->Append("t", std::string(100, 'x'))).ok()) {
  }
  ASSERT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  KillAndReap(reader);
  st = w->Append("t", "right after the reader died");
  EXPECT_TRUE(st.ok()) << st;
}

// The last live participant's close releases a killed one first, so the
// queue's name does not stay behind in /dev/shm.
TEST_F(DeathTest, LastLiveCloseUnlinksPastAKilledParticipant) {
  pid_t child = ForkRun([&] {
    auto q = SyncQueue::Open(name_);
    if (!q.ok()) return 2;
    auto r = q->Attach("killed", QueueRole::kBoth);
    if (!r.ok()) return 3;
    ::pause();
    return 0;
  });
  ASSERT_TRUE(WaitUntil([&] { return queue_->Inspect()->participants.size() == 1; },
                        absl::Seconds(20)));
  auto me = queue_->Attach("last", QueueRole::kBoth);
  ASSERT_TRUE(me.ok());
  ASSERT_TRUE(me->Append("t", "x").ok());
  KillAndReap(child);
  ASSERT_TRUE(me->Close().ok());
  const std::string path = "/dev/shm/syncstream-queue." + name_;
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << path << " is still there";
  EXPECT_EQ(SyncQueue::Open(name_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DeathTest, RepairReleasesADeadReader) {
  pid_t reader = ForkRun([&] {
    auto q = SyncQueue::Open(name_);
    auto r = q->Attach("gone", QueueRole::kReader);
    ::pause();
    return 0;
  });
  ASSERT_TRUE(WaitUntil([&] { return queue_->Inspect()->participants.size() == 1; },
                        absl::Seconds(20)));
  KillAndReap(reader);
  auto snap = queue_->Inspect();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->participants.size(), 1u);
  EXPECT_FALSE(snap->participants[0].alive);
  auto report = queue_->Repair();
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->released.size(), 1u);
  EXPECT_THAT(report->released[0], HasSubstr("gone (pid " + std::to_string(reader)));
  EXPECT_TRUE(queue_->Inspect()->participants.empty());
}

TEST_F(DeathTest, WriterKilledBetweenReserveAndCommitIsSkipped) {
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  pid_t writer = SpawnStoppedAppender(name_, "doomed", "stop-after-reserve");
  ASSERT_GT(writer, 0);
  // The reserved frame is not readable while its writer lives.
  auto none = r->Pop();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(queue_->Inspect()->pending_frames, 1u);
  KillAndReap(writer);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append("t", "after").ok());
  auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->body, "after");
  // And the writer side reclaims the space: many laps of the ring work.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(w->Append("t", std::string(100, 'y'),
                          AppendOptions{.block = true, .timeout = absl::Seconds(10)})
                    .ok());
    auto got = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
    ASSERT_TRUE(got.ok() && got->has_value());
  }
}

// A writer stopped by `hook` mid-append is killed while no reader holds the
// queue: other writers lap over its abandoned frame, which is counted once.
void ExpectWritersLapPastDeadWriter(SyncQueue& queue, const std::string& name,
                                    const std::string& hook) {
  pid_t writer = SpawnStoppedAppender(name, "doomed", hook);
  ASSERT_GT(writer, 0);
  KillAndReap(writer);
  auto w = queue.Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 100; ++i) {
    absl::Status st = w->Append(
        "t", std::string(100, 'z'),
        AppendOptions{.block = true, .timeout = absl::Seconds(10)});
    ASSERT_TRUE(st.ok()) << st;
  }
  EXPECT_EQ(queue.Inspect()->abandoned_frames, 1u);
}

TEST_F(DeathTest, WriterKilledMidAppendWithNoReaderDoesNotWedgeWriters) {
  ExpectWritersLapPastDeadWriter(*queue_, name_, "stop-after-reserve");
}

// Lock-free appends: a writer killed after claiming its frame with the
// tail's compare-and-swap but before writing any header leaves a hole whose
// length only the next frame tells. Readers wait while it lives, then skip it.
TEST_F(DeathTest, WriterKilledAfterClaimBeforeHeaderIsSkipped) {
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  pid_t writer = SpawnStoppedAppender(name_, "doomed", "stop-after-claim");
  ASSERT_GT(writer, 0);
  EXPECT_EQ(queue_->Inspect()->pending_frames, 1u);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append("t", "behind the hole").ok());
  // The claimant is alive (stopped): its claim is not skipped, however long
  // the reader waits (well past the 2 ms after which it probes).
  auto none = r->Pop(PopOptions{.timeout = absl::Milliseconds(50)});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  KillAndReap(writer);
  auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->body, "behind the hole");
  EXPECT_EQ(queue_->Inspect()->abandoned_frames, 1u);
  // Many laps of the ring over the abandoned hole.
  for (int i = 0; i < 200; ++i) {
    const std::string body = "lap " + std::to_string(i);
    ASSERT_TRUE(w->Append("t", body, AppendOptions{.block = true, .timeout = absl::Seconds(10)})
                    .ok());
    auto got = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->body, body);
  }
}

// The dead writer's claim spans the ring's end (padding + frame), neither
// written: the hole is closed as padding up to the lap's end, then as an
// abandoned frame from the lap's start up to the next written frame.
TEST_F(DeathTest, HoleAcrossTheLapEndIsSkipped) {
  auto r = queue_->Attach("r", QueueRole::kReader);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(r.ok() && w.ok());
  // Frames of 144 bytes (40 + "w" + "t" + 100, rounded to 8): 14 of them
  // leave 32 bytes before the end of the 2048-byte ring.
  ASSERT_EQ(queue_->capacity_bytes(), 2048u);
  for (int i = 0; i < 14; ++i) {
    ASSERT_TRUE(w->Append("t", std::string(100, 'a')).ok());
    ASSERT_TRUE(r->Pop().ok());
  }
  ASSERT_EQ(queue_->Inspect()->tail, 14u * 144u);
  // The doomed frame (64 bytes) does not fit in 32: its claim covers both.
  pid_t writer = SpawnStoppedAppender(name_, "doomed", "stop-after-claim");
  ASSERT_GT(writer, 0);
  EXPECT_EQ(queue_->Inspect()->tail, 2048u + 64u);
  ASSERT_TRUE(w->Append("t", "after the lap").ok());
  KillAndReap(writer);
  // A reader that only polls (timeout zero) gets past the holes too.
  std::optional<QueueMessage> got;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto m = r->Pop();
        if (m.ok() && m->has_value()) got = **m;
        return !m.ok() || got.has_value();
      },
      absl::Seconds(10)));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->body, "after the lap");
  EXPECT_EQ(queue_->Inspect()->abandoned_frames, 2u);
}

// A writer killed while writing its frame's header, before the frame word:
// the fields it wrote (the sequence number at +8) are not frame words, even
// when one reads as a word of this lap (sequence 13 = lap 0, state 5, length
// 8). The hole ends at the next real frame, not at the sequence field.
TEST_F(DeathTest, WriterKilledMidHeaderIsSkippedWhole) {
  auto r = queue_->Attach("r", QueueRole::kReader);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(r.ok() && w.ok());
  for (int i = 0; i < 13; ++i) {  // sequences 0..12: the doomed frame gets 13
    ASSERT_TRUE(w->Append("t", "before").ok());
    auto m = r->Pop();
    ASSERT_TRUE(m.ok() && m->has_value());
    ASSERT_EQ((*m)->sequence, static_cast<uint64_t>(i));
  }
  pid_t writer = SpawnStoppedAppender(name_, "doomed", "stop-mid-header");
  ASSERT_GT(writer, 0);
  KillAndReap(writer);
  ASSERT_TRUE(w->Append("t", "behind the hole").ok());
  auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->body, "behind the hole");
  EXPECT_EQ((*m)->sequence, 14u);
  EXPECT_EQ(queue_->Inspect()->abandoned_frames, 1u);
  // Laps over the hole: the space is reclaimed past it.
  for (int i = 0; i < 100; ++i) {
    const std::string body = "lap " + std::to_string(i);
    ASSERT_TRUE(w->Append("t", body, AppendOptions{.block = true, .timeout = absl::Seconds(10)})
                    .ok());
    auto got = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->body, body);
  }
}

// A hole ends where its dead claimant announced, not where the ring's bytes
// seem to say: inside the dead claim of lap 2, a frame header left by lap 1
// holds writer slot | generation << 32 = 1 | 2 << 32, which reads as a frame
// word of lap 2 ("reserved, length 0"). Scanning for the hole's end stopped
// there (DataLoss "bad length 0").
TEST_F(DeathTest, StaleBytesOfAnEarlierLapDoNotEndAHole) {
  auto r = queue_->Attach("r", QueueRole::kReader);   // slot 0, generation 1
  auto w = queue_->Attach("w", QueueRole::kWriter);   // slot 1, generation 2
  ASSERT_TRUE(r.ok() && w.ok());
  for (int i = 0; i < 84; ++i) {  // laps 0 and 1: 42 frames of 48 bytes + 32 padding each
    ASSERT_TRUE(w->Append("t", "abcdef").ok());
    auto m = r->Pop();
    ASSERT_TRUE(m.ok() && m->has_value());
  }
  ASSERT_EQ(queue_->Inspect()->tail, 4064u);
  ASSERT_TRUE(w->Append("t", std::string(46, 'x')).ok());  // 88 bytes
  ASSERT_TRUE(r->Pop().ok());
  pid_t writer = SpawnStoppedAppender(name_, "doomed", "stop-after-claim");
  ASSERT_GT(writer, 0);
  KillAndReap(writer);
  ASSERT_TRUE(w->Append("t", "behind the hole").ok());
  auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->body, "behind the hole");
}

// The dead claimant's slot announces where its hole ends: releasing the slot
// (repair, or an attach reusing it) first closes the hole.
TEST_F(DeathTest, ReleasingADeadClaimantClosesItsHoleFirst) {
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  pid_t writer = SpawnStoppedAppender(name_, "doomed", "stop-after-claim");
  ASSERT_GT(writer, 0);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append("t", "behind the hole").ok());
  KillAndReap(writer);
  auto report = queue_->Repair();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->released.size(), 1u);
  EXPECT_EQ(report->abandoned_frames, 1u);
  EXPECT_EQ(queue_->Inspect()->pending_frames, 0u);
  auto again = queue_->Attach("again", QueueRole::kWriter);  // may reuse the slot
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->Append("t", "after").ok());
  for (const char* body : {"behind the hole", "after"}) {
    auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(m->has_value());
    EXPECT_EQ((*m)->body, body);
  }
}

TEST_F(DeathTest, StoppedWriterAfterClaimIsWaitedForAndDelivered) {
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  pid_t writer = SpawnStoppedAppender(name_, "slow", "stop-after-claim");
  ASSERT_GT(writer, 0);
  ExpectWaitedForThenDelivered(*r, writer);
  EXPECT_EQ(queue_->Inspect()->abandoned_frames, 0u);
}

// Bytes laid out like a committed frame (FrameHeader + payload), as a
// message body may carry them: what a reader must never take for a frame.
std::string FakeCommittedFrame(uint32_t lap, const std::string& sender,
                               const std::string& type, const std::string& body) {
  const size_t length = queue_internal::FrameSize(sender.size(), type.size(), body.size());
  std::string bytes(length, '\0');
  auto put = [&bytes](size_t offset, auto value) {
    std::memcpy(&bytes[offset], &value, sizeof(value));
  };
  put(0, queue_internal::MakeFrameWord(queue_internal::kFrameCommitted, length, lap));
  put(8, uint64_t{777});                                  // sequence
  put(24, static_cast<uint32_t>(body.size()));
  put(28, static_cast<uint16_t>(type.size()));
  put(30, static_cast<uint8_t>(sender.size()));
  std::memcpy(&bytes[queue_internal::kFrameHeaderSize], (sender + type + body).data(),
              sender.size() + type.size() + body.size());
  return bytes;
}

TEST_F(DeathTest, BytesOfAnEarlierLapAtAClaimWithoutHeaderAreNeverAFrame) {
  // A writer has claimed [2560, 2624) (lap 1, ring offset 512) and stopped
  // before writing its header. Lap 0 left a body at ring offset 512 whose
  // bytes read as a committed frame of lap 1 that fits the claim. The reader
  // must wait for the claim, not deliver those bytes.
  auto r = queue_->Attach("r", QueueRole::kReader);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(r.ok() && w.ok());
  const size_t capacity = queue_->capacity_bytes();
  ASSERT_EQ(capacity, 2048u);
  // Lap 0: a frame at 0 (40 header bytes, "w", "t", its body from 42 on)
  // holding the fake at ring offset 512, and one up to 2024.
  std::string first(1024 - 42, 'a');
  const std::string fake = FakeCommittedFrame(1, "evil", "type", "garbage!!");
  ASSERT_EQ(fake.size(), 64u);
  first.replace(512 - 42, fake.size(), fake);
  for (const std::string& body : {first, std::string(1000 - 42, 'b'),
                                  // 512 bytes do not fit in the 24 left: padding, then
                                  // the frame at 2048 (ring offset 0).
                                  std::string(512 - 42, 'c')}) {
    ASSERT_TRUE(w->Append("t", body).ok());
    auto m = r->Pop();
    ASSERT_TRUE(m.ok() && m->has_value());
    ASSERT_EQ((*m)->body, body);
  }
  ASSERT_EQ(queue_->Inspect()->tail, 2560u);
  pid_t writer = SpawnStoppedAppender(name_, "slow", "stop-after-claim");
  ASSERT_GT(writer, 0);
  ASSERT_EQ(queue_->Inspect()->tail, 2624u);
  ExpectWaitedForThenDelivered(*r, writer);
}

TEST_F(DeathTest, OpeningWhileOthersLapTheRingIsNotCorruption) {
  // Opening a queue loads its head, then its tail. A process descheduled
  // between the two can find the tail laps past the head it loaded, once
  // others have appended and reclaimed meanwhile (a full TSan run once
  // failed so: "writer w1: corrupt positions: head 33608, tail 37704,
  // capacity 2048"). It must load both again, not refuse the queue.
  auto r = queue_->Attach("r", QueueRole::kReader);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(r.ok() && w.ok());
  pid_t late = SpawnStoppedAppender(name_, "late", "stop-between-positions");
  ASSERT_GT(late, 0);
  // Three laps of the 2 KiB ring, each message read at once: head moves on.
  const std::string body(100, 'x');
  for (int i = 0; i < 45; ++i) {
    ASSERT_TRUE(w->Append("t", body).ok());
    auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
    ASSERT_TRUE(m.ok() && m->has_value());
  }
  ASSERT_GT(queue_->Inspect()->tail, 3u * 2048);
  ASSERT_EQ(::kill(late, SIGCONT), 0);
  auto code = WaitForExit(late, absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->body, "from late");
}

TEST_F(DeathTest, WriterThatLostTheRaceRetriesAfterHeadPassedWhatItSaw) {
  // A failed compare-and-swap hands back the tail as it was then; before
  // the retry looks at head, other writers may append a lap of the ring and
  // have head move past that tail. The retry must load the tail again (not
  // report corrupt positions) and append.
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  pid_t racer = SpawnStoppedAppender(name_, "racer", "stop-around-lost-race");
  ASSERT_GT(racer, 0);
  ASSERT_TRUE(w->Append("t", "first").ok());  // takes the tail the racer saw
  auto first = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->body, "first");
  ASSERT_EQ(::kill(racer, SIGCONT), 0);
  ASSERT_TRUE(WaitForStop(racer, absl::Seconds(20)).ok());  // its CAS failed
  // Two laps of the 2 KiB ring, each message read at once: head moves on.
  const std::string body(100, 'x');
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(w->Append("t", body).ok());
    auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
    ASSERT_TRUE(m.ok() && m->has_value());
  }
  ASSERT_EQ(::kill(racer, SIGCONT), 0);
  auto code = WaitForExit(racer, absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::vector<std::string> bodies;
  for (;;) {
    auto m = r->Pop(PopOptions{.timeout = absl::ZeroDuration()});
    ASSERT_TRUE(m.ok()) << m.status();
    if (!m->has_value()) break;
    bodies.push_back((*m)->body);
  }
  EXPECT_EQ(bodies, std::vector<std::string>{"from racer"});
}

// Space reclaiming jumps over claims announced finished without reading
// their frames: a claim still being written (its writer stopped after
// claiming, or after reserving) must hold its space even when the only
// reader marked everything read past it. Once it finishes, space flows.
void ExpectSpaceHeldUnderAStoppedClaim(SyncQueue& queue, const std::string& name,
                                       const std::string& hook) {
  auto r = queue.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  pid_t writer = SpawnStoppedAppender(name, "slow", hook);
  ASSERT_GT(writer, 0);
  auto w = queue.Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  // Frames of 144 bytes ("w", "t", 100 bytes): at most 14 fit in the ring.
  const std::string body(100, 'x');
  int appended = 0;
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(r->MarkAllRead().ok());
    absl::Status st;
    while ((st = w->Append("t", body)).ok()) ++appended;
    ASSERT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  }
  EXPECT_LE(appended, static_cast<int>(queue.capacity_bytes() / 144));
  ASSERT_EQ(::kill(writer, SIGCONT), 0);
  auto code = WaitForExit(writer, absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(r->MarkAllRead().ok());
    absl::Status st = w->Append("t", body);
    ASSERT_TRUE(st.ok()) << "append " << i << ": " << st;
  }
  EXPECT_EQ(queue.Inspect()->abandoned_frames, 0u);
}

TEST_F(DeathTest, SpaceUnderAClaimWithoutHeaderIsHeldPastMarkAllRead) {
  ExpectSpaceHeldUnderAStoppedClaim(*queue_, name_, "stop-after-claim");
}

TEST_F(DeathTest, SpaceUnderAReservedFrameIsHeldPastMarkAllRead) {
  ExpectSpaceHeldUnderAStoppedClaim(*queue_, name_, "stop-after-reserve");
}

// Layout 4: a writer killed after committing its frames but before marking
// its claim finished. Its message is delivered; space reclaiming walks over
// its frames instead of jumping; repair releases its slot.
TEST_F(DeathTest, WriterKilledAfterCommitBeforeFinishingItsClaim) {
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  pid_t writer = SpawnStoppedAppender(name_, "done", "stop-after-commit");
  ASSERT_GT(writer, 0);
  auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->body, "from done");
  KillAndReap(writer);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 200; ++i) {
    const std::string body = "lap " + std::to_string(i);
    ASSERT_TRUE(w->Append("t", body, AppendOptions{.block = true, .timeout = absl::Seconds(10)})
                    .ok());
    auto got = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->body, body);
  }
  auto report = queue_->Repair();
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->released.size(), 1u);
  EXPECT_THAT(report->released[0], HasSubstr("done (pid " + std::to_string(writer)));
  EXPECT_EQ(report->abandoned_frames, 0u);
  EXPECT_EQ(queue_->Inspect()->abandoned_frames, 0u);
}

TEST_F(DeathTest, WriterKilledAfterClaimWithNoReaderDoesNotWedgeWriters) {
  ExpectWritersLapPastDeadWriter(*queue_, name_, "stop-after-claim");
}

// Real writers (exec'd) stream through a small ring while another writer
// sits on a claimed, headerless frame and is then killed: every message of
// the live writers still arrives once and in order.
TEST_F(DeathTest, WritersStreamPastAWriterKilledAfterClaim) {
  const std::vector<std::string> writers = {"w0", "w1"};
  std::vector<std::string> argv = {helper_path, "read", name_, "r", "3000"};
  argv.insert(argv.end(), writers.begin(), writers.end());
  pid_t reader = Spawn(argv);
  ASSERT_TRUE(WaitUntil([&] { return queue_->Inspect()->participants.size() == 1; },
                        absl::Seconds(20)));
  pid_t doomed = SpawnStoppedAppender(name_, "doomed", "stop-after-claim");
  ASSERT_GT(doomed, 0);
  std::vector<pid_t> pids = {reader};
  for (const std::string& w : writers) {
    pids.push_back(Spawn({helper_path, "write", name_, w, "3000"}));
  }
  KillAndReap(doomed);
  for (pid_t pid : pids) {
    auto code = WaitForExit(pid, absl::Seconds(45));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << "child " << pid;
  }
  EXPECT_EQ(queue_->Inspect()->abandoned_frames, 1u);
}

TEST_F(DeathTest, ProcessKilledHoldingTheLockDoesNotDeadlock) {
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  pid_t writer = SpawnStoppedAppender(name_, "holder", "stop-holding-lock");
  ASSERT_GT(writer, 0);
  KillAndReap(writer);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(w->Append("t", "after").ok());
  auto m = r->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->body, "after");  // the holder's message was never published
  EXPECT_EQ(queue_->Inspect()->lock_recoveries, 1u);
}

TEST_F(DeathTest, ProcessKilledWhileBlockedInPopDoesNotHangAppend) {
  pid_t reader = Spawn({helper_path, "pop-block", name_, "sleeper"});
  ASSERT_TRUE(WaitUntil([&] { return queue_->Inspect()->participants.size() == 1; },
                        absl::Seconds(20)));
  ASSERT_TRUE(WaitForSleep(reader, absl::Seconds(20)).ok());
  KillAndReap(reader);
  auto w = queue_->Attach("w", QueueRole::kWriter);
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  const absl::Time start = ::syncstream::Now();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(w->Append("t", std::string(100, 'q'),
                          AppendOptions{.block = true, .timeout = absl::Seconds(10)})
                    .ok());
    ASSERT_TRUE(r->Pop().ok());
  }
  EXPECT_LT(::syncstream::Now() - start, absl::Seconds(10));
}

TEST_F(DeathTest, ProcessKilledWhileBlockedInAppendDoesNotHangAppend) {
  auto w = queue_->Attach("w", QueueRole::kWriter);
  auto r = queue_->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  while (w->Append("t", std::string(100, 'x')).ok()) {
  }
  pid_t blocked = Spawn({helper_path, "append-block", name_, "blocked"});
  ASSERT_TRUE(WaitUntil([&] { return queue_->Inspect()->participants.size() == 3; },
                        absl::Seconds(20)));
  ASSERT_TRUE(WaitForSleep(blocked, absl::Seconds(20)).ok());
  KillAndReap(blocked);
  ASSERT_TRUE(r->MarkAllRead().ok());
  absl::Status st = w->Append("t", "after");
  EXPECT_TRUE(st.ok()) << st;
  auto m = r->Pop();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->body, "after");
}

// Foreign, truncated, other-version and corrupted segments.
class CorruptSegmentTest : public ::testing::Test {
 protected:
  void SetUp() override { name_ = UniqueQueueName("c"); }
  void TearDown() override { SyncQueue::Remove(name_).IgnoreError(); }
  std::string Path() const { return "/dev/shm/syncstream-queue." + name_; }
  // Maps the segment file for tampering.
  template <typename F>
  void Tamper(F f) {
    UniqueFd fd(::open(Path().c_str(), O_RDWR));
    ASSERT_TRUE(fd.valid());
    off_t size = ::lseek(fd.get(), 0, SEEK_END);
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(p, MAP_FAILED);
    f(static_cast<uint8_t*>(p));
    ::munmap(p, size);
  }
  // Creates the queue, stamps `version` as its layout version, and returns
  // what opening it says (an error, as no other version is read).
  absl::Status OpenAtLayoutVersion(uint32_t version) {
    { EXPECT_TRUE(SyncQueue::Create(name_, 4096).ok()); }
    Tamper([version](uint8_t* p) {
      reinterpret_cast<queue_internal::QueueHeader*>(p)->layout_version =
          version;
    });
    return SyncQueue::Open(name_).status();
  }
  std::string name_;
};

// Queue squatting: a segment that group or others may write, or that
// another user owns, is refused at Attach unless the caller opts in.
TEST_F(CorruptSegmentTest, QueueWritableByOthersIsRefusedUnlessAllowed) {
  auto created = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(::chmod(Path().c_str(), 0666), 0);
  auto q = SyncQueue::Open(name_);
  ASSERT_TRUE(q.ok()) << q.status();  // inspecting it is harmless
  auto refused = q->Attach("me", QueueRole::kBoth);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("queue '" + name_ + "'"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("mode 0666"));
  auto allowed = q->Attach("me", QueueRole::kBoth, AttachOptions{.allow_shared_queue = true});
  EXPECT_TRUE(allowed.ok()) << allowed.status();
}

TEST_F(CorruptSegmentTest, QueueOfAnotherUserIsRefusedUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a queue as another user";
  constexpr uid_t kNobody = 65534;
  const pid_t child = ForkRun([&] {
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) return 2;
    auto q = SyncQueue::Create(name_, 4096);  // mode 0600, as the squatter's own
    return q.ok() ? 0 : 3;
  });
  auto code = WaitForExit(child, absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  ASSERT_EQ(*code, 0);
  auto q = SyncQueue::Open(name_);
  ASSERT_TRUE(q.ok()) << q.status();
  auto refused = q->Attach("root", QueueRole::kWriter);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("belongs to uid 65534"));
  auto allowed =
      q->Attach("root", QueueRole::kWriter, AttachOptions{.allow_shared_queue = true});
  EXPECT_TRUE(allowed.ok()) << allowed.status();
}

TEST_F(CorruptSegmentTest, ForeignSegmentIsAMagicMismatch) {
  UniqueFd fd(::open(Path().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  ASSERT_TRUE(fd.valid());
  std::string junk(8192, 'J');
  ASSERT_EQ(::write(fd.get(), junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  auto q = SyncQueue::Open(name_);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            "queue '" + name_ + "': header magic mismatch (not a syncstream queue?)");
}

TEST_F(CorruptSegmentTest, TruncatedSegmentIsReported) {
  {
    auto q = SyncQueue::Create(name_, 4096);
    ASSERT_TRUE(q.ok());
  }
  ASSERT_EQ(::truncate(Path().c_str(), 5000), 0);
  auto q = SyncQueue::Open(name_);
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(std::string(q.status().message()), HasSubstr("truncated"));
  ASSERT_EQ(::truncate(Path().c_str(), 10), 0);
  auto tiny = SyncQueue::Open(name_);
  ASSERT_FALSE(tiny.ok());
  EXPECT_THAT(std::string(tiny.status().message()), HasSubstr("truncated"));
}

TEST_F(CorruptSegmentTest, OtherLayoutVersionIsReported) {
  const absl::Status opened = OpenAtLayoutVersion(7);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(std::string(opened.message()), HasSubstr("layout version 7"));
}

// Every earlier layout is refused by its number; each would misread this
// one's segments:
//  2: announced only a claim's start (holes were closed by scanning);
//  3: never marks a claim finished, and would read a newer writer's finish
//     mark as part of its claim's end;
//  4: reclaimed space without zeroing it: its writers would hand a newer
//     reader the bytes of an earlier lap at a claim in progress;
//  5: its writers claim up to head + capacity, past the zeroed space
//     (space_end) that version 6 hands out a step at a time.
TEST_F(CorruptSegmentTest, EarlierLayoutVersionsAreRefusedByName) {
  for (uint32_t version : {2u, 3u, 4u, 5u}) {
    SCOPED_TRACE(version);
    const absl::Status opened = OpenAtLayoutVersion(version);
    ASSERT_FALSE(opened.ok());
    EXPECT_THAT(std::string(opened.message()),
                HasSubstr(absl::StrCat("queue '", name_, "': layout version ", version,
                                       ", this program reads 6")));
    ASSERT_TRUE(SyncQueue::Remove(name_).ok());
  }
}

// A space_end outside [tail, head + capacity] is DataLoss when a writer
// needs more space, never a claim of bytes that are not zeroed or not read.
TEST_F(CorruptSegmentTest, CorruptSpaceEndIsDataLoss) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok());
  auto w = q->Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append("t", "fine").ok());
  const uint64_t tail = q->Inspect()->tail;
  Tamper([&](uint8_t* p) {
    reinterpret_cast<queue_internal::QueueHeader*>(p)->space_end.store(tail - 8);
  });
  absl::Status st = w->Append("t", "after");
  ASSERT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_THAT(std::string(st.message()),
              HasSubstr(absl::StrCat("queue '", name_, "': corrupt space end ", tail - 8,
                                     " (head ", tail, ", tail ", tail)));
  Tamper([&](uint8_t* p) {
    // Beyond head + capacity: appends still stop at head + capacity, and the
    // first one that needs space finds the damage.
    reinterpret_cast<queue_internal::QueueHeader*>(p)->space_end.store(tail + 3 * 4096);
  });
  int appended = 0;
  while ((st = w->Append("t", std::string(100, 'x'))).ok() && appended < 1000) ++appended;
  EXPECT_LT(appended, 4096 / 100);
  ASSERT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("corrupt space end"));
}

// Positions that break head <= tail <= head + capacity are reported with
// what every slot holds, so that a report from the field says how the
// queue got there.
TEST_F(CorruptSegmentTest, CorruptPositionsAreReportedWithTheSlots) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok());
  auto w = q->Attach("writer-w", QueueRole::kWriter);
  auto r = q->Attach("reader-r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  ASSERT_TRUE(w->Append("t", "fine").ok());
  const uint64_t tail = q->Inspect()->tail;
  Tamper([&](uint8_t* p) {
    // Two laps ahead of head (0): more than the ring holds.
    reinterpret_cast<queue_internal::QueueHeader*>(p)->tail.store(tail + 2 * 4096);
  });
  absl::Status st = w->Append("t", "after");
  ASSERT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  const std::string message(st.message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat("corrupt positions (append): head 0, tail ",
                                              tail + 2 * 4096, ", capacity 4096")));
  EXPECT_THAT(message, HasSubstr("'writer-w' pid " + std::to_string(::getpid())));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("claim 0..", tail, " confirmed finished")));
  EXPECT_THAT(message, HasSubstr("'reader-r' pid "));
  EXPECT_THAT(message, HasSubstr("cursor 0"));
}

TEST_F(CorruptSegmentTest, CorruptFrameIsDataLossNotACrash) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok());
  auto w = q->Attach("w", QueueRole::kWriter);
  auto r = q->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  ASSERT_TRUE(w->Append("t", "fine").ok());
  const uint64_t ring_offset = q->Inspect()->segment_bytes - q->capacity_bytes();
  Tamper([&](uint8_t* p) {
    auto* f = reinterpret_cast<queue_internal::FrameHeader*>(p + ring_offset);
    f->body_length = 1u << 30;  // claims far more than the frame holds
  });
  auto m = r->Pop();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("queue '" + name_ + "'"));
  Tamper([&](uint8_t* p) {
    auto* f = reinterpret_cast<queue_internal::FrameHeader*>(p + ring_offset);
    // A frame word of this lap (0) whose length runs past the tail.
    f->word.store(queue_internal::MakeFrameWord(queue_internal::kFrameCommitted, 1u << 20, 0));
  });
  EXPECT_EQ(r->Pop().status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(q->Inspect().status().code(), absl::StatusCode::kDataLoss);
  Tamper([&](uint8_t* p) {
    reinterpret_cast<queue_internal::QueueHeader*>(p)->tail.store(1u << 30);
  });
  EXPECT_EQ(SyncQueue::Open(name_).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s QUEUE_TEST_HELPER\n", argv[0]);
    return 2;
  }
  syncstream::helper_path = argv[1];
  return RUN_ALL_TESTS();
}
