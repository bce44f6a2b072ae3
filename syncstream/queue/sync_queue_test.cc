// The pysyncq guide's behaviour, in one process (threads where waiting is
// involved). Multi-process and death cases: sync_queue_process_test.cc.
#include "syncstream/queue/sync_queue.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncstream/queue/internal/segment.h"
#include "syncstream/queue/testing/queue_test_util.h"
#include "syncstream/core/deadline.h"

namespace syncstream {
namespace {

using ::testing::HasSubstr;
using queue_testing::UniqueQueueName;

bool ShmExists(const std::string& name) {
  struct stat st;
  return ::stat(("/dev/shm/syncstream-queue." + name).c_str(), &st) == 0;
}

class SyncQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { name_ = UniqueQueueName("q"); }
  void TearDown() override { SyncQueue::Remove(name_).IgnoreError(); }
  SyncQueue MakeQueue(size_t capacity = 4096) {
    auto q = SyncQueue::Create(name_, capacity);
    EXPECT_TRUE(q.ok()) << q.status();
    return *std::move(q);
  }
  std::string name_;
};

TEST_F(SyncQueueTest, AppendThenPopCarriesSenderTypeBodySequence) {
  SyncQueue q = MakeQueue();
  auto writer = q.Attach("alice", QueueRole::kWriter);
  auto reader = q.Attach("bob", QueueRole::kReader);
  ASSERT_TRUE(writer.ok() && reader.ok());
  const absl::Time before = ::syncstream::Now();
  ASSERT_TRUE(writer->Append("greeting", "hello").ok());
  ASSERT_TRUE(writer->Append("", "").ok());  // type and body may be empty
  auto m = reader->Pop();
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->sender, "alice");
  EXPECT_EQ((*m)->type, "greeting");
  EXPECT_EQ((*m)->body, "hello");
  EXPECT_GE((*m)->timestamp, before - absl::Seconds(1));
  auto m2 = reader->Pop();
  ASSERT_TRUE(m2.ok() && m2->has_value());
  EXPECT_EQ((*m2)->body, "");
  EXPECT_EQ((*m2)->sequence, (*m)->sequence + 1);
  auto none = reader->Pop();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(SyncQueueTest, StrAndBytesBodiesRoundTrip) {
  SyncQueue q = MakeQueue();
  auto writer = q.Attach("w", QueueRole::kWriter);
  auto reader = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(writer.ok() && reader.ok());
  const char kBytes[] = "\0\xff\x01\n\r binary";
  const std::string bytes(kBytes, sizeof(kBytes) - 1);
  ASSERT_TRUE(writer->Append("text", "plain str é").ok());
  ASSERT_TRUE(writer->Append(std::string("t\0y", 3), bytes).ok());
  auto a = reader->Pop();
  auto b = reader->Pop();
  ASSERT_TRUE(a.ok() && a->has_value() && b.ok() && b->has_value());
  EXPECT_EQ((*a)->body, "plain str é");
  EXPECT_EQ((*b)->type, std::string("t\0y", 3));
  EXPECT_EQ((*b)->body, bytes);
}

TEST_F(SyncQueueTest, FullQueueIsResourceExhaustedAtOnce) {
  SyncQueue q = MakeQueue(1024);
  auto writer = q.Attach("w", QueueRole::kWriter);
  auto reader = q.Attach("r", QueueRole::kReader);  // holds the space
  ASSERT_TRUE(writer.ok() && reader.ok());
  int appended = 0;
  absl::Status st;
  while ((st = writer->Append("t", std::string(100, 'x'))).ok()) ++appended;
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("queue '" + name_ + "': full"));
  EXPECT_GT(appended, 3);
  // Reading frees space for the next append.
  auto m = reader->Pop();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_TRUE(writer->Append("t", std::string(100, 'x')).ok());
}

TEST_F(SyncQueueTest, TooLargeMessageIsInvalidArgument) {
  SyncQueue q = MakeQueue(1024);
  auto writer = q.Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(writer.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(writer->Append("t", std::string(600, 'x'))));
  EXPECT_TRUE(writer->Append("t", std::string(q.max_body_bytes(1, 1), 'x')).ok());
}

TEST_F(SyncQueueTest, BlockingAppendTimesOutAfterItsTimer) {
  SyncQueue q = MakeQueue(1024);
  auto writer = q.Attach("w", QueueRole::kWriter);
  auto reader = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(writer.ok() && reader.ok());
  while (writer->Append("t", std::string(100, 'x')).ok()) {
  }
  const absl::Time start = ::syncstream::Now();
  absl::Status st = writer->Append("t", std::string(100, 'x'),
                                   AppendOptions{.block = true, .timeout = absl::Milliseconds(100)});
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  EXPECT_GE(::syncstream::Now() - start, absl::Milliseconds(100));
}

TEST_F(SyncQueueTest, BlockingAppendProceedsWhenAReaderFreesSpace) {
  SyncQueue q = MakeQueue(1024);
  auto writer = q.Attach("w", QueueRole::kWriter);
  auto reader = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(writer.ok() && reader.ok());
  int appended = 0;
  while (writer->Append("t", std::string(100, 'x')).ok()) ++appended;
  std::atomic<bool> done{false};
  absl::Status blocked_status;
  std::thread blocked([&] {
    blocked_status = writer->Append("t", "last",
                                    AppendOptions{.block = true, .timeout = absl::Seconds(30)});
    done = true;
  });
  int read = 0;
  bool saw_last = false;
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(30);
  while (!saw_last && ::syncstream::Now() < deadline) {
    auto m = reader->Pop(PopOptions{.timeout = absl::Milliseconds(50)});
    ASSERT_TRUE(m.ok());
    if (m->has_value()) {
      ++read;
      saw_last = (*m)->body == "last";
    }
  }
  blocked.join();
  EXPECT_TRUE(blocked_status.ok()) << blocked_status;
  EXPECT_TRUE(saw_last);
  EXPECT_EQ(read, appended + 1);
}

TEST_F(SyncQueueTest, BlockingPopReturnsEmptyAfterItsTimer) {
  SyncQueue q = MakeQueue();
  auto reader = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(reader.ok());
  const absl::Time start = ::syncstream::Now();
  auto m = reader->Pop(PopOptions{.timeout = absl::Milliseconds(100)});
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());
  EXPECT_GE(::syncstream::Now() - start, absl::Milliseconds(100));
}

TEST_F(SyncQueueTest, PopWithZeroTimeoutReturnsAtOnce) {
  SyncQueue q = MakeQueue();
  auto reader = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(reader.ok());
  auto m = reader->Pop(PopOptions{.timeout = absl::ZeroDuration()});
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());
}

TEST_F(SyncQueueTest, BlockingPopWakesForAMessageFromAnotherThread) {
  SyncQueue q = MakeQueue();
  auto writer = q.Attach("w", QueueRole::kWriter);
  auto reader = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(writer.ok() && reader.ok());
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(writer->Append("t", "wake up").ok());
  });
  auto m = reader->Pop(PopOptions{.timeout = absl::Seconds(30)});
  late.join();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->body, "wake up");
}

// A reader that may spin (PopOptions::spin) gets every message in order,
// whether it catches a message while spinning, after sleeping (the writer
// pauses longer than the spin), or finds it already there; and a spinning
// wait with nothing to read still ends at its timeout, not before.
TEST_F(SyncQueueTest, SpinningReaderGetsEveryMessageAndKeepsItsTimer) {
  SyncQueue q = MakeQueue(1 << 16);
  auto writer = q.Attach("w", QueueRole::kWriter);
  auto reader = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(writer.ok() && reader.ok());
  constexpr int kMessages = 300;
  std::thread appender([&] {
    for (int i = 0; i < kMessages; ++i) {
      // Gaps of 0, 20 us and 2 ms: within, around and past the spin.
      const int gap_us = i % 3 == 0 ? 0 : i % 3 == 1 ? 20 : 2000;
      std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
      ASSERT_TRUE(writer->Append("t", absl::StrCat(i)).ok());
    }
  });
  const PopOptions spin{.timeout = absl::Seconds(30), .spin = absl::Microseconds(200)};
  for (int i = 0; i < kMessages; ++i) {
    auto m = reader->Pop(spin);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(m->has_value()) << i;
    ASSERT_EQ((*m)->body, absl::StrCat(i));
  }
  appender.join();
  const absl::Time start = ::syncstream::Now();
  auto none = reader->Pop(PopOptions{.timeout = absl::Milliseconds(50),
                                     .spin = absl::Milliseconds(10)});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_GE(::syncstream::Now() - start, absl::Milliseconds(50));
}

TEST_F(SyncQueueTest, ScreensOwnMessagesByDefaultAndOnRequest) {
  SyncQueue q = MakeQueue();
  auto a = q.Attach("a", QueueRole::kBoth);
  auto b = q.Attach("b", QueueRole::kBoth);
  auto c = q.Attach("c", QueueRole::kBoth, AttachOptions{.screen_own_messages = false});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->screened_senders(), std::vector<std::string>{"a"});
  ASSERT_TRUE(a->Append("t", "from a").ok());
  ASSERT_TRUE(b->Append("t", "from b").ok());
  // a does not see its own message.
  auto m = a->Pop();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->body, "from b");
  // c reads its own too.
  auto c1 = c->Pop();
  ASSERT_TRUE(c1.ok() && c1->has_value());
  EXPECT_EQ((*c1)->body, "from a");
  // Unscreening your own name works like pysyncq's scrnsend.remove().
  a->UnscreenSender("a");
  ASSERT_TRUE(a->Append("t", "again a").ok());
  auto m2 = a->Pop();
  ASSERT_TRUE(m2.ok() && m2->has_value());
  EXPECT_EQ((*m2)->body, "again a");
}

TEST_F(SyncQueueTest, ScreensBySenderAndType) {
  SyncQueue q = MakeQueue();
  auto w1 = q.Attach("w1", QueueRole::kWriter);
  auto w2 = q.Attach("w2", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w1.ok() && w2.ok() && r.ok());
  r->ScreenSender("w2");
  r->ScreenType("noise");
  ASSERT_TRUE(w1->Append("data", "1").ok());
  ASSERT_TRUE(w2->Append("data", "2").ok());
  ASSERT_TRUE(w1->Append("noise", "3").ok());
  ASSERT_TRUE(w1->Append("data", "4").ok());
  std::vector<std::string> got;
  auto n = r->ForEachAvailable([&](const QueueMessageView& m) { got.emplace_back(m.body); });
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(got, (std::vector<std::string>{"1", "4"}));
  auto snap = q.Inspect();
  ASSERT_TRUE(snap.ok());
  bool found = false;
  for (const ParticipantInfo& p : snap->participants) {
    if (p.name == "r") {
      found = true;
      EXPECT_EQ(p.filters, "sender:r sender:w2 type:noise");
      EXPECT_EQ(p.lag_messages, 0u);
    }
  }
  EXPECT_TRUE(found);
}

// Beyond four names the lists are searched by bisection: screening, a name
// screened twice, and unscreening must behave as with one or two names.
TEST_F(SyncQueueTest, ScreensAmongManySendersAndTypes) {
  SyncQueue q = MakeQueue();
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  std::vector<QueueParticipant> writers;
  for (const char* name : {"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"}) {
    auto w = q.Attach(name, QueueRole::kWriter);
    ASSERT_TRUE(w.ok()) << w.status();
    writers.push_back(std::move(*w));
  }
  for (const char* name : {"w6", "w0", "w4", "w2", "w4", "nobody"}) r->ScreenSender(name);
  for (const char* type : {"t5", "t1", "t3", "t7", "t1"}) r->ScreenType(type);
  r->UnscreenSender("w4");
  r->UnscreenSender("not screened");
  r->UnscreenType("t7");
  EXPECT_EQ(r->screened_senders(), (std::vector<std::string>{"nobody", "r", "w0", "w2", "w6"}));
  EXPECT_EQ(r->screened_types(), (std::vector<std::string>{"t1", "t3", "t5"}));
  // Writer i appends a message of type "t<i>": what passes is a writer not
  // screened whose type is not screened either.
  for (size_t i = 0; i < writers.size(); ++i) {
    ASSERT_TRUE(writers[i].Append(absl::StrCat("t", i), absl::StrCat(i)).ok());
  }
  std::vector<std::string> got;
  auto n = r->ForEachAvailable([&](const QueueMessageView& m) { got.emplace_back(m.body); });
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(got, (std::vector<std::string>{"4", "7"}));
}

TEST_F(SyncQueueTest, IterationPopsEveryAvailableMessageInOrder) {
  SyncQueue q = MakeQueue(64 * 1024);
  auto w = q.Attach("w", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(w->Append("t", std::to_string(i)).ok());
  int expected = 0;
  auto n = r->ForEachAvailable([&](const QueueMessageView& m) {
    EXPECT_EQ(m.body, std::to_string(expected));
    ++expected;
  });
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 100u);
  auto none = r->ForEachAvailable([&](const QueueMessageView&) { ADD_FAILURE(); });
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
}

TEST_F(SyncQueueTest, AppendBatchIsContiguousAndWraps) {
  SyncQueue q = MakeQueue(1024);
  auto w = q.Attach("w", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  // Many rounds so that batches straddle the end of the ring.
  int next = 0;
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> bodies;
    for (int i = 0; i < 3; ++i) bodies.push_back(std::to_string(round * 3 + i) + "-body");
    std::vector<OutgoingMessage> batch;
    for (const auto& b : bodies) batch.push_back({"t", b});
    ASSERT_TRUE(w->AppendBatch(batch).ok());
    QueueMessage m;
    for (int i = 0; i < 3; ++i) {
      auto got = r->PopInto(&m);
      ASSERT_TRUE(got.ok() && *got);
      EXPECT_EQ(m.body, std::to_string(next++) + "-body");
    }
  }
}

TEST_F(SyncQueueTest, MarkAllReadFreesSpace) {
  SyncQueue q = MakeQueue(1024);
  auto w = q.Attach("w", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  int appended = 0;
  while (w->Append("t", std::string(50, 'x')).ok()) ++appended;
  auto skipped = r->MarkAllRead();
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(*skipped, static_cast<size_t>(appended));
  EXPECT_TRUE(w->Append("t", "fits again").ok());
  auto m = r->Pop();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->body, "fits again");
}

// A writer short of space moves head as far as the readers allow, but hands
// out (and zeroes, under the queue lock) only one step of space past what it
// needs, so an Append never zeroes a whole large ring; repair hands out all
// of it.
TEST_F(SyncQueueTest, WritersZeroSpaceInBoundedStepsAndRepairZeroesTheRest) {
  constexpr uint64_t kCapacity = 4 << 20;
  constexpr uint64_t kStep = queue_internal::Segment::kReclaimStep;
  static_assert(kCapacity > 4 * kStep, "the ring must hold several steps");
  constexpr uint64_t kSlack = 1024;  // a few frames, and padding at the lap's end
  SyncQueue q = MakeQueue(kCapacity);
  auto w = q.Attach("w", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  auto segment = queue_internal::Segment::Open(name_);
  ASSERT_TRUE(segment.ok()) << segment.status();
  const queue_internal::QueueHeader& header = *(*segment)->header();
  const std::string body(100, 'x');
  absl::Status appended;
  while ((appended = w->Append("t", body)).ok()) {
  }
  ASSERT_TRUE(absl::IsResourceExhausted(appended)) << appended;
  auto full = q.Inspect();
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE(full->newest_sequence.has_value());
  EXPECT_GT(full->used_bytes, kCapacity - kSlack);
  EXPECT_EQ(header.head.load(), 0u);
  EXPECT_EQ(header.space_end.load(), kCapacity);  // a new segment is all zeros
  ASSERT_TRUE(r->MarkAllRead().ok());

  // Everything is read: head moves to the reader, space_end only a step on.
  ASSERT_TRUE(w->Append("t", body).ok());
  EXPECT_EQ(header.head.load(), full->tail);
  const uint64_t stepped = header.space_end.load();
  EXPECT_EQ(stepped, kCapacity + kStep);
  // What it added is zeros, but for the message just appended.
  const uint8_t* ring = (*segment)->ring();
  const uint64_t written_end = full->tail + kSlack;
  for (uint64_t pos = written_end; pos < stepped; pos += 8) {
    ASSERT_EQ(ring[pos & (kCapacity - 1)], 0) << "position " << pos;
  }

  auto report = q.Repair();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->reclaimed_bytes, 0u);  // head had nothing left to pass
  EXPECT_EQ(header.space_end.load(), full->tail + kCapacity);
  auto m = r->Pop();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->sequence, *full->newest_sequence + 1);
  // The space keeps being handed out a step at a time, lap after lap.
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(w->Append("t", body).ok()) << i;
    ASSERT_TRUE(r->Pop().ok());
    const uint64_t space_end = header.space_end.load();
    ASSERT_LE(space_end - header.head.load(), kCapacity);
    ASSERT_GE(space_end, header.tail.load());
  }
}

// A lone writer packs its frames (8-byte aligned); once another writer has
// claimed since its previous claim, a writer ends each claim on a cache
// line, and readers read the padded frames as before.
TEST_F(SyncQueueTest, ClaimsEndOnACacheLineWhileAnotherWriterAppends) {
  SyncQueue q = MakeQueue(1 << 16);
  auto a = q.Attach("a", QueueRole::kWriter);
  auto b = q.Attach("b", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(a.ok() && b.ok() && r.ok());
  auto segment = queue_internal::Segment::Open(name_);
  ASSERT_TRUE(segment.ok()) << segment.status();
  const queue_internal::QueueHeader& header = *(*segment)->header();
  const std::string body(100, 'x');  // a 144-byte frame: 40 + 1 + 1 + 100, padded to 8
  const uint64_t frame = queue_internal::FrameSize(1, 1, body.size());
  ASSERT_EQ(frame % 64, 16u);

  ASSERT_TRUE(a->Append("t", body).ok());
  ASSERT_TRUE(a->Append("t", body).ok());
  EXPECT_EQ(header.tail.load(), 2 * frame);  // alone: packed
  ASSERT_TRUE(b->Append("t", body).ok());    // a claimed since b's last claim (none)
  EXPECT_EQ(header.tail.load(), 2 * frame + frame + 64 - (3 * frame) % 64);
  ASSERT_EQ(header.tail.load() % 64, 0u);
  ASSERT_TRUE(a->Append("t", body).ok());  // b claimed since a's last claim
  ASSERT_EQ(header.tail.load() % 64, 0u);
  const uint64_t aligned_tail = header.tail.load();
  ASSERT_TRUE(a->Append("t", body).ok());  // a's own claim was the last: packed
  EXPECT_EQ(header.tail.load(), aligned_tail + frame);

  std::vector<std::string> senders;
  std::vector<uint64_t> sequences;
  for (;;) {
    auto m = r->Pop({.timeout = absl::ZeroDuration()});
    ASSERT_TRUE(m.ok()) << m.status();
    if (!m->has_value()) break;
    EXPECT_EQ((*m)->body, body);
    EXPECT_EQ((*m)->type, "t");
    senders.push_back((*m)->sender);
    sequences.push_back((*m)->sequence);
  }
  EXPECT_THAT(senders, ::testing::ElementsAre("a", "a", "b", "a", "a"));
  EXPECT_THAT(sequences, ::testing::ElementsAre(0, 1, 2, 3, 4));

  // Interleaved writers over many laps: every message read once, in order.
  uint64_t next_sequence = 5;
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE((i % 3 == 0 ? b : a)->Append("t", absl::StrCat(i)).ok()) << i;
    auto m = r->Pop({.timeout = absl::ZeroDuration()});
    ASSERT_TRUE(m.ok() && m->has_value()) << i;
    ASSERT_EQ((*m)->body, absl::StrCat(i));
    ASSERT_EQ((*m)->sequence, next_sequence++);
  }
}

TEST_F(SyncQueueTest, WritersNeedNotReadAndNoReaderMeansNoBacklog) {
  SyncQueue q = MakeQueue(1024);
  auto w = q.Attach("w", QueueRole::kWriter);
  ASSERT_TRUE(w.ok());
  // No reader: nothing is held, so a writer never fills the queue.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(w->Append("t", std::string(100, 'x')).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(w->Pop().status()));
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  auto none = r->Pop();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // a late joiner starts at the tail
}

TEST_F(SyncQueueTest, LateJoinerStartsAtTheTail) {
  SyncQueue q = MakeQueue();
  auto w = q.Attach("w", QueueRole::kWriter);
  auto early = q.Attach("early", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && early.ok());
  ASSERT_TRUE(w->Append("t", "before").ok());
  auto late = q.Attach("late", QueueRole::kReader);
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(w->Append("t", "after").ok());
  auto m = late->Pop();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->body, "after");
  auto e1 = early->Pop();
  ASSERT_TRUE(e1.ok() && e1->has_value());
  EXPECT_EQ((*e1)->body, "before");
}

TEST_F(SyncQueueTest, LastCloseUnlinksUnlessKept) {
  {
    SyncQueue q = MakeQueue();
    auto a = q.Attach("a", QueueRole::kBoth);
    auto b = q.Attach("b", QueueRole::kBoth);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(a->Close().ok());
    EXPECT_TRUE(ShmExists(name_));
    ASSERT_TRUE(b->Close().ok());
    EXPECT_FALSE(ShmExists(name_));
    EXPECT_TRUE(absl::IsNotFound(q.Attach("c", QueueRole::kBoth).status()));
  }
  {
    SyncQueue q = MakeQueue();
    auto a = q.Attach("a", QueueRole::kBoth);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(a->Close(CloseOptions{.keep = true}).ok());
    EXPECT_TRUE(ShmExists(name_));
  }
  {
    // The destructor closes too.
    auto q = SyncQueue::Open(name_);
    ASSERT_TRUE(q.ok());
    { auto a = q->Attach("a", QueueRole::kBoth); }
    EXPECT_FALSE(ShmExists(name_));
  }
}

TEST_F(SyncQueueTest, OpeningNeverZeroesAnExistingQueue) {
  SyncQueue q = MakeQueue();
  auto w = q.Attach("w", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  ASSERT_TRUE(w->Append("t", "kept").ok());
  auto again = SyncQueue::OpenOrCreate(name_, 1 << 20);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->capacity_bytes(), 4096u);
  auto w2 = again->Attach("w2", QueueRole::kWriter);
  ASSERT_TRUE(w2.ok());
  auto m = r->Pop();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->body, "kept");
  EXPECT_TRUE(absl::IsAlreadyExists(SyncQueue::Create(name_, 4096).status()));
}

TEST_F(SyncQueueTest, RejectsBadNamesAndRoles) {
  EXPECT_TRUE(absl::IsInvalidArgument(SyncQueue::Create("a/b", 4096).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(SyncQueue::Create("", 4096).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(SyncQueue::Create(name_, 10).status()));
  EXPECT_TRUE(absl::IsNotFound(SyncQueue::Open(name_).status()));
  SyncQueue q = MakeQueue();
  EXPECT_TRUE(absl::IsInvalidArgument(q.Attach("", QueueRole::kBoth).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(q.Attach(std::string(64, 'n'), QueueRole::kBoth).status()));
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(r->Append("t", "x")));
}

TEST_F(SyncQueueTest, ParticipantSlotsRunOut) {
  auto q = SyncQueue::Create(name_, 4096, QueueOptions{.max_participants = 2});
  ASSERT_TRUE(q.ok());
  auto a = q->Attach("a", QueueRole::kBoth);
  auto b = q->Attach("b", QueueRole::kBoth);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(q->Attach("c", QueueRole::kBoth).status()));
  ASSERT_TRUE(a->Close().ok());
  EXPECT_TRUE(q->Attach("c", QueueRole::kBoth).ok());
}

TEST_F(SyncQueueTest, InheritedParticipantRefusesToWorkInAForkedChild) {
  SyncQueue q = MakeQueue();
  auto w = q.Attach("w", QueueRole::kBoth);
  ASSERT_TRUE(w.ok());
  pid_t pid = queue_testing::ForkRun([&] {
    absl::Status st = w->Append("t", "from child");
    // The child's copy must not detach the parent's slot on exit either.
    return absl::IsFailedPrecondition(st) ? 0 : 1;
  });
  auto code = queue_testing::WaitForExit(pid, absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(w->Append("t", "from parent").ok());
}

TEST_F(SyncQueueTest, InspectReportsCountsAndLag) {
  SyncQueue q = MakeQueue();
  auto w = q.Attach("w", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w->Append("t", "abc").ok());
  ASSERT_TRUE(r->Pop().ok());
  auto snap = q.Inspect();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->message_count, 4u);
  ASSERT_TRUE(snap->oldest_sequence && snap->newest_sequence);
  EXPECT_EQ(*snap->newest_sequence - *snap->oldest_sequence, 3u);
  ASSERT_EQ(snap->participants.size(), 2u);
  for (const ParticipantInfo& p : snap->participants) {
    EXPECT_TRUE(p.alive);
    EXPECT_EQ(p.pid, ::getpid());
    if (p.name == "r") {
      EXPECT_EQ(p.lag_messages, 4u);
      EXPECT_EQ(p.messages_read, 1u);
      EXPECT_EQ(p.lag_bytes, snap->used_bytes);
    }
  }
}

TEST_F(SyncQueueTest, ManyThreadsAppendWhileOneReads) {
  SyncQueue q = MakeQueue(8192);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(r.ok());
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto w = q.Attach("w" + std::to_string(t), QueueRole::kWriter);
      ASSERT_TRUE(w.ok());
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(w->Append("t", std::to_string(i),
                              AppendOptions{.block = true, .timeout = absl::Seconds(30)})
                        .ok());
      }
    });
  }
  std::map<std::string, int> next;
  int total = 0;
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(30);
  while (total < kThreads * kEach && ::syncstream::Now() < deadline) {
    auto n = r->ForEachAvailable(
        [&](const QueueMessageView& m) {
          EXPECT_EQ(std::string(m.body), std::to_string(next[std::string(m.sender)]++));
          ++total;
        },
        PopOptions{.timeout = absl::Milliseconds(100)});
    ASSERT_TRUE(n.ok());
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(total, kThreads * kEach);
}

TEST_F(SyncQueueTest, WritersTakingTurnsGetDenseSequencesAcrossLaps) {
  // Each writer's claims follow the other's, which moved the tail meanwhile
  // (by one message or by laps of the ring, so that space is reclaimed in
  // between): sequence numbers stay dense and in the queue's order.
  SyncQueue q = MakeQueue(1024);
  auto a = q.Attach("a", QueueRole::kWriter);
  auto b = q.Attach("b", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(a.ok() && b.ok() && r.ok());
  QueueMessage m;
  uint64_t expected_sequence = 0;
  int appended = 0;
  for (int turn = 0; turn < 60; ++turn) {
    QueueParticipant& w = turn % 2 == 0 ? *a : *b;
    const int run = 1 + (turn * 7) % 23;  // up to a lap of the ring and more
    for (int i = 0; i < run; ++i) {
      ASSERT_TRUE(w.Append("t", std::to_string(appended)).ok());
      auto got = r->PopInto(&m);
      ASSERT_TRUE(got.ok() && *got);
      EXPECT_EQ(m.sender, turn % 2 == 0 ? "a" : "b");
      EXPECT_EQ(m.body, std::to_string(appended));
      EXPECT_EQ(m.sequence, expected_sequence);
      ++expected_sequence;
      ++appended;
    }
  }
}

TEST_F(SyncQueueTest, ThreadsShareOneWriter) {
  // The attaching thread appends on its lock's owner path, the others on
  // the other path (which turns into a spin lock for all after a while).
  SyncQueue q = MakeQueue(8192);
  auto w = q.Attach("w", QueueRole::kWriter);
  auto r = q.Attach("r", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  constexpr int kThreads = 3, kEach = 3000;
  std::atomic<int> failures{0};
  auto append_all = [&](int t) {
    for (int i = 0; i < kEach; ++i) {
      if (!w->Append(std::to_string(t), std::to_string(i),
                     AppendOptions{.block = true, .timeout = absl::Seconds(30)})
               .ok()) {
        failures.fetch_add(1);
        return;
      }
    }
  };
  std::vector<std::thread> others;
  for (int t = 1; t < kThreads; ++t) others.emplace_back(append_all, t);
  std::thread reader([&] {
    std::map<std::string, int> next;
    uint64_t expected_sequence = 0;
    int total = 0;
    const absl::Time deadline = ::syncstream::Now() + absl::Seconds(30);
    while (total < kThreads * kEach && ::syncstream::Now() < deadline) {
      auto n = r->ForEachAvailable(
          [&](const QueueMessageView& m) {
            EXPECT_EQ(std::string(m.body), std::to_string(next[std::string(m.type)]++));
            EXPECT_EQ(m.sequence, expected_sequence++);
            ++total;
          },
          PopOptions{.timeout = absl::Milliseconds(100)});
      ASSERT_TRUE(n.ok());
    }
    EXPECT_EQ(total, kThreads * kEach);
  });
  append_all(0);  // this thread attached `w`: the owner
  for (auto& t : others) t.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace syncstream
