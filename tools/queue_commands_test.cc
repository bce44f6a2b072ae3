// Runs the `syncstream` binary (argv[1]) on real queues: inspect --json,
// repair after a SIGKILLed participant, tail -n, rm, ls and --help.
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncstream/proc/line_proc_buffer.h"
#include "syncstream/queue/sync_queue.h"
#include "syncstream/queue/testing/queue_test_util.h"

namespace syncstream {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace queue_testing;

std::string binary;

struct Result {
  int code = -1;
  std::string out;
};

// Runs `syncstream ARGS` through the shell, capturing stdout and stderr.
Result RunCli(const std::string& args) {
  Result r;
  FILE* p = ::popen(("timeout 20 " + binary + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), p)) > 0) r.out.append(buffer, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The line of `out` that starts with `name` and a space ("" if none): other
// queues in /dev/shm (of other tests, or left by killed programs) may be
// listed too.
std::string RowOf(const std::string& out, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::StartsWith(line, name + " ")) return std::string(line);
  }
  return "";
}

// Forks a child that runs `hold` (it takes something and pauses until it is
// killed) and returns its pid once `ready(pid)` holds; -1, the child killed,
// after 20 s.
template <typename Hold, typename Ready>
pid_t ForkHolding(Hold hold, Ready ready) {
  const pid_t child = ForkRun(hold);
  if (WaitUntil([&] { return ready(child); }, absl::Seconds(20))) return child;
  KillAndReap(child);
  return -1;
}

// The participants of `queue` as Inspect shows them (none when it cannot).
std::vector<ParticipantInfo> ParticipantsOf(const std::string& queue) {
  auto q = SyncQueue::Open(queue);
  if (!q.ok()) return {};
  auto snapshot = q->Inspect();
  if (!snapshot.ok()) return {};
  return snapshot->participants;
}

// Forks a child that attaches to `queue` as `participant` and waits to be
// killed. Returns its pid once the queue lists it (-1 after 20 s).
pid_t ForkAttached(const std::string& queue, const std::string& participant, QueueRole role) {
  return ForkHolding(
      [&] {
        auto again = SyncQueue::Open(queue);
        if (!again.ok()) return 1;
        auto attached = again->Attach(participant, role);  // held until the kill
        if (!attached.ok()) return 1;
        ::pause();
        return 0;
      },
      [&](pid_t child) {
        for (const ParticipantInfo& p : ParticipantsOf(queue)) {
          if (p.name == participant && p.pid == child) return true;
        }
        return false;
      });
}

class QueueCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override { name_ = UniqueQueueName("cli"); }
  void TearDown() override {
    for (const char* suffix : {"", "-live", "-kept", "-orphan", "-named", "-stray"}) {
      SyncQueue::Remove(name_ + suffix).IgnoreError();
      LineProcBuffer::RemoveControlBlock(name_ + suffix).IgnoreError();
    }
  }
  std::string name_;
};

TEST_F(QueueCommandsTest, InspectJsonShowsParticipantsAndCounts) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok());
  auto w = q->Attach("writer-a", QueueRole::kWriter);
  auto r = q->Attach("reader-b", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && r.ok());
  r->ScreenType("noise");
  ASSERT_TRUE(w->Append("t", "one").ok());
  ASSERT_TRUE(w->Append("t", "two").ok());
  Result res = RunCli("queue inspect " + name_ + " --json");
  ASSERT_EQ(res.code, 0) << res.out;
  EXPECT_THAT(res.out, HasSubstr(absl::StrCat("\"name\":\"", name_, "\"")));
  EXPECT_THAT(res.out, HasSubstr("\"capacity_bytes\":4096"));
  EXPECT_THAT(res.out, HasSubstr("\"message_count\":2"));
  EXPECT_THAT(res.out, HasSubstr("\"name\":\"writer-a\",\"role\":\"writer\""));
  EXPECT_THAT(res.out, HasSubstr(absl::StrCat("\"pid\":", ::getpid(), ",\"alive\":true")));
  EXPECT_THAT(res.out, HasSubstr("\"lag_messages\":2"));
  EXPECT_THAT(res.out, HasSubstr("\"filters\":\"sender:reader-b type:noise\""));
  Result text = RunCli("queue inspect " + name_);
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_THAT(text.out, HasSubstr("reader-b"));
  Result ls = RunCli("queue ls");
  ASSERT_EQ(ls.code, 0);
  EXPECT_THAT(ls.out, HasSubstr(name_));
}

TEST_F(QueueCommandsTest, RepairReleasesAKilledParticipant) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok());
  auto keeper = q->Attach("keeper", QueueRole::kWriter);
  ASSERT_TRUE(keeper.ok());
  const pid_t child = ForkAttached(name_, "victim", QueueRole::kReader);
  ASSERT_GT(child, 0);
  KillAndReap(child);
  Result before = RunCli("queue inspect " + name_ + " --json");
  EXPECT_THAT(before.out, HasSubstr("\"name\":\"victim\",\"role\":\"reader\""));
  EXPECT_THAT(before.out, HasSubstr(absl::StrCat("\"pid\":", child, ",\"alive\":false")));
  Result repair = RunCli("queue repair " + name_);
  ASSERT_EQ(repair.code, 0) << repair.out;
  EXPECT_THAT(repair.out, HasSubstr(absl::StrCat("released 1 dead participant(s): victim (pid ",
                                                 child, ")")));
  Result after = RunCli("queue inspect " + name_ + " --json");
  EXPECT_THAT(after.out, ::testing::Not(HasSubstr("victim")));
}

TEST_F(QueueCommandsTest, LsFlagsAQueueWhoseParticipantsAreAllDead) {
  { ASSERT_TRUE(SyncQueue::Create(name_, 4096).ok()); }
  // A child attaches and stays; the row counts it, alive.
  const pid_t child = ForkAttached(name_, "only-writer", QueueRole::kWriter);
  ASSERT_GT(child, 0);
  const std::string alive_row = absl::StrCat("\"name\":\"", name_,
                                             "\",\"segment_bytes\":");
  Result alive = RunCli("queue ls --json");
  ASSERT_EQ(alive.code, 0) << alive.out;
  EXPECT_THAT(alive.out, HasSubstr(alive_row));
  EXPECT_THAT(alive.out, HasSubstr("\"participants\":1,\"dead_participants\":0,"
                                   "\"orphaned\":false"));
  Result alive_text = RunCli("queue ls");
  EXPECT_THAT(RowOf(alive_text.out, name_), ::testing::MatchesRegex(name_ + " +[0-9]+ +4096 +1 +0"));
  // Killed, it cannot close the queue: nobody will unlink it.
  KillAndReap(child);
  Result dead = RunCli("queue ls --json");
  ASSERT_EQ(dead.code, 0) << dead.out;
  EXPECT_THAT(dead.out, HasSubstr("\"participants\":1,\"dead_participants\":1,"
                                  "\"orphaned\":true"));
  Result text = RunCli("queue ls");
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_THAT(RowOf(text.out, name_),
              ::testing::MatchesRegex(name_ + " +[0-9]+ +4096 +1 +1  orphaned"));
  EXPECT_THAT(text.out, HasSubstr("orphaned queue(s): every participant's process is gone"));
}

TEST_F(QueueCommandsTest, RmOrphanedRemovesOnlyQueuesWhoseParticipantsAreAllDead) {
  const std::string live_name = name_ + "-live";
  const std::string kept_name = name_ + "-kept";
  { ASSERT_TRUE(SyncQueue::Create(name_, 4096).ok()); }
  { ASSERT_TRUE(SyncQueue::Create(kept_name, 4096).ok()); }  // no participant: kept
  auto live = SyncQueue::Create(live_name, 4096);
  ASSERT_TRUE(live.ok());
  auto live_writer = live->Attach("alive", QueueRole::kWriter);
  ASSERT_TRUE(live_writer.ok());
  // The live queue also has a dead participant: one dead is not orphaned.
  for (const std::string& queue : {name_, live_name}) {
    const pid_t child = ForkAttached(queue, "doomed", QueueRole::kReader);
    ASSERT_GT(child, 0);
    KillAndReap(child);
  }
  // Named, so as not to touch the queues of tests running beside this one:
  // without names, --orphaned takes every orphaned queue of the machine
  // (the same per-queue step, over the names `ls` flags).
  const std::string names = absl::StrCat(name_, " ", live_name, " ", kept_name);
  Result rm = RunCli("queue rm --orphaned " + names);
  ASSERT_EQ(rm.code, 0) << rm.out;
  EXPECT_THAT(rm.out, HasSubstr("removed " + name_ + " (orphaned: every participant dead)"));
  EXPECT_THAT(rm.out, HasSubstr("kept " + live_name + " (not orphaned"));
  EXPECT_THAT(rm.out, HasSubstr("kept " + kept_name + " (not orphaned"));
  struct stat st;
  EXPECT_NE(::stat(("/dev/shm/syncstream-queue." + name_).c_str(), &st), 0);
  EXPECT_EQ(::stat(("/dev/shm/syncstream-queue." + live_name).c_str(), &st), 0);
  EXPECT_EQ(::stat(("/dev/shm/syncstream-queue." + kept_name).c_str(), &st), 0);
  // The live queue still works.
  EXPECT_TRUE(live_writer->Append("t", "still here").ok());
  // Gone now: a name that does not exist is an error.
  Result again = RunCli("queue rm --orphaned " + name_);
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.out, HasSubstr("queue '" + name_ + "'"));
}

bool ShmExists(const std::string& name) {
  struct stat st;
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

// Forks a child that creates a LineProcBuffer on queue `queue` and waits to
// be killed. Returns its pid once the queue and its control block exist and
// the buffer's collector is attached (-1 after 20 s).
pid_t ForkProcBuffer(const std::string& queue) {
  return ForkHolding(
      [&] {
        LineProcBufferOptions options;
        options.queue_name = queue;
        auto buffer = LineProcBuffer::Create(10, options);  // held until the kill
        if (!buffer.ok()) {
          fprintf(stderr, "LineProcBuffer::Create: %s\n", buffer.status().ToString().c_str());
          return 1;
        }
        ::pause();
        return 0;
      },
      [&](pid_t) {
        return ShmExists("syncstream-proc." + queue) && ParticipantsOf(queue).size() == 1;
      });
}

TEST_F(QueueCommandsTest, RmRemovesTheControlBlockAKilledLineProcBufferLeft) {
  const std::string orphan = name_ + "-orphan";
  const std::string named = name_ + "-named";
  const std::string stray = name_ + "-stray";
  for (const std::string& queue : {orphan, named, stray}) {
    const pid_t child = ForkProcBuffer(queue);
    ASSERT_GT(child, 0);
    KillAndReap(child);  // no destructor: the queue and its block stay
    ASSERT_TRUE(ShmExists("syncstream-queue." + queue));
    ASSERT_TRUE(ShmExists("syncstream-proc." + queue));
  }
  Result rm = RunCli("queue rm --orphaned " + orphan);
  ASSERT_EQ(rm.code, 0) << rm.out;
  EXPECT_THAT(rm.out, HasSubstr("removed " + orphan + " (orphaned"));
  EXPECT_THAT(rm.out, HasSubstr("removed the LineProcBuffer control block of " + orphan));
  rm = RunCli("queue rm " + named);
  ASSERT_EQ(rm.code, 0) << rm.out;
  EXPECT_THAT(rm.out, HasSubstr("removed the LineProcBuffer control block of " + named));
  // A queue removed without its block (through the library): ls names the
  // block, and rm removes it alone, which is no error (both forms).
  ASSERT_TRUE(SyncQueue::Remove(stray).ok());
  Result ls = RunCli("queue ls");
  ASSERT_EQ(ls.code, 0) << ls.out;
  EXPECT_THAT(ls.out, HasSubstr("LineProcBuffer control block(s) whose queue is gone: "));
  EXPECT_THAT(ls.out, HasSubstr(" " + stray));
  rm = RunCli("queue rm " + stray);
  ASSERT_EQ(rm.code, 0) << rm.out;
  EXPECT_THAT(rm.out, HasSubstr("removed the LineProcBuffer control block of " + stray +
                                " (its queue is gone)"));
  const pid_t again = ForkProcBuffer(stray);
  ASSERT_GT(again, 0);
  KillAndReap(again);
  ASSERT_TRUE(SyncQueue::Remove(stray).ok());
  rm = RunCli("queue rm --orphaned " + stray);
  ASSERT_EQ(rm.code, 0) << rm.out;
  EXPECT_THAT(rm.out, HasSubstr("removed the LineProcBuffer control block of " + stray +
                                " (its queue is gone)"));
  EXPECT_THAT(RunCli("queue ls").out, Not(HasSubstr(" " + stray)));
  for (const std::string& queue : {orphan, named, stray}) {
    EXPECT_FALSE(ShmExists("syncstream-queue." + queue)) << queue;
    EXPECT_FALSE(ShmExists("syncstream-proc." + queue)) << queue;
  }
  // Neither left: still an error naming the queue (both forms).
  for (const char* command : {"queue rm ", "queue rm --orphaned "}) {
    rm = RunCli(std::string(command) + stray);
    EXPECT_EQ(rm.code, 1) << command;
    EXPECT_THAT(rm.out, HasSubstr("queue '" + stray + "'")) << command;
  }
}

TEST_F(QueueCommandsTest, RemoveIfOrphanedAfterTheLastParticipantDied) {
  { ASSERT_TRUE(SyncQueue::Create(name_, 4096).ok()); }
  auto q = SyncQueue::Open(name_);
  ASSERT_TRUE(q.ok());
  auto none = q->RemoveIfOrphaned();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(*none);  // no participant: kept on purpose, not orphaned
  auto me = q->Attach("me", QueueRole::kReader);
  ASSERT_TRUE(me.ok());
  auto alive = q->RemoveIfOrphaned();
  ASSERT_TRUE(alive.ok());
  EXPECT_FALSE(*alive);
  const pid_t child = ForkAttached(name_, "doomed", QueueRole::kWriter);
  ASSERT_GT(child, 0);
  KillAndReap(child);
  ASSERT_TRUE(me->Close(CloseOptions{.keep = true}).ok());
  auto orphaned = q->RemoveIfOrphaned();
  ASSERT_TRUE(orphaned.ok()) << orphaned.status();
  EXPECT_TRUE(*orphaned);
  EXPECT_TRUE(absl::IsNotFound(SyncQueue::Open(name_).status()));
  // An attach through a mapping taken before sees the queue unlinked.
  auto late = q->Attach("late", QueueRole::kReader);
  EXPECT_TRUE(absl::IsNotFound(late.status())) << late.status();
}

// Runs `queue tail NAME ARGS` until it has read everything `q` holds after
// `live` was appended, then SIGINTs it; returns its output (stdout only) and
// expects exit status 0.
std::string TailUntilRead(SyncQueue& q, QueueParticipant& writer, const std::string& name,
                          const std::string& args, const std::string& live) {
  std::string out_path = absl::StrCat(::testing::TempDir(), "/tail-", ::getpid());
  const size_t before = q.Inspect()->participants.size();
  pid_t tail = Spawn({"/bin/sh", "-c",
                      absl::StrCat("exec ", binary, " queue tail ", name, " ", args, " > ",
                                   out_path)});
  EXPECT_TRUE(WaitUntil([&] { return q.Inspect()->participants.size() == before + 1; },
                        absl::Seconds(20)));
  EXPECT_TRUE(writer.Append("t", live).ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto s = q.Inspect();
        for (const auto& p : s->participants) {
          if (p.name.rfind("tail-", 0) == 0) return p.lag_messages == 0;
        }
        return false;
      },
      absl::Seconds(20)));
  ::kill(tail, SIGINT);
  auto code = WaitForExit(tail, absl::Seconds(20));
  EXPECT_TRUE(code.ok());
  if (code.ok()) EXPECT_EQ(*code, 0);
  FILE* f = fopen(out_path.c_str(), "r");
  EXPECT_NE(f, nullptr);
  std::string out;
  if (f == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), f)) > 0) out.append(buffer, n);
  fclose(f);
  ::unlink(out_path.c_str());
  return out;
}

TEST_F(QueueCommandsTest, TailReplaysAndStopsOnSigint) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok());
  auto w = q->Attach("w", QueueRole::kWriter);
  auto holder = q->Attach("holder", QueueRole::kReader);  // keeps messages in the ring
  ASSERT_TRUE(w.ok() && holder.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w->Append("t", absl::StrCat("m", i)).ok());
  std::string out = TailUntilRead(*q, *w, name_, "-n 2", "live");
  EXPECT_THAT(out, ::testing::Not(HasSubstr(": m2")));
  EXPECT_THAT(out, HasSubstr("w t: m3\n"));
  EXPECT_THAT(out, HasSubstr("w t: m4\n"));
  EXPECT_THAT(out, HasSubstr("w t: live\n"));
  // tail detached and left the queue in place.
  EXPECT_EQ(q->Inspect()->participants.size(), 2u);
}

TEST_F(QueueCommandsTest, TailFormatsFiltersAndEscapes) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok());
  auto w = q->Attach("w", QueueRole::kWriter);
  auto v = q->Attach("v\x1b[2J", QueueRole::kWriter);
  auto holder = q->Attach("holder", QueueRole::kReader);
  ASSERT_TRUE(w.ok() && v.ok() && holder.ok());
  ASSERT_TRUE(w->Append("t", "a\x1b]0;TITLE\x07" "b").ok());
  ASSERT_TRUE(v->Append("u", "from v").ok());
  // Default (tagged): time, sender, type; control characters escaped.
  std::string tagged = TailUntilRead(*q, *w, name_, "-n 0", "end");
  EXPECT_THAT(tagged, ::testing::MatchesRegex(
                          "20[0-9-]+T[0-9:.]+Z w t: a\\\\x1b]0;TITLE\\\\x07b\n"
                          "20[0-9-]+T[0-9:.]+Z v\\\\x1b\\[2J u: from v\n"
                          "20[0-9-]+T[0-9:.]+Z w t: end\n"));
  std::string text = TailUntilRead(*q, *w, name_, "-n 0 --format=text --sender=w", "end");
  EXPECT_EQ(text, "a\\x1b]0;TITLE\\x07b\nend\nend\n");
  std::string raw = TailUntilRead(*q, *w, name_, "-n 0 --format text --type u --raw", "end");
  EXPECT_EQ(raw, "from v\n");
  std::string json = TailUntilRead(*q, *w, name_, "-n 1 --format=json", "last");
  EXPECT_THAT(json, ::testing::MatchesRegex(
                        "\\{\"kind\":\"line\",\"sender\":\"w\",\"type\":\"t\","
                        "\"sequence\":[0-9]+,.*\"text\":\"end\".*\n"
                        "\\{.*\"text\":\"last\".*\\}\n"));
}

TEST_F(QueueCommandsTest, NamesAreEscapedInListingsAndErrors) {
  // A segment planted in /dev/shm whose name would retitle and recolour a
  // terminal (not a queue: ls shows it with the reason it cannot be read).
  const std::string evil = name_ + "-evil\x1b]0;TITLE\x07\x1b[31mRED";
  const std::string path = "/dev/shm/syncstream-queue." + evil;
  FILE* planted = fopen(path.c_str(), "w");
  ASSERT_NE(planted, nullptr);
  fputs("not a queue", planted);
  fclose(planted);
  Result ls = RunCli("queue ls");
  Result inspect = RunCli("queue inspect \"$(printf '" + name_ +
                          "-evil\\033]0;TITLE\\007\\033[31mRED')\"");
  ::unlink(path.c_str());
  EXPECT_EQ(ls.code, 0) << ls.out;
  EXPECT_THAT(ls.out, HasSubstr(name_ + "-evil\\x1b]0;TITLE\\x07\\x1b[31mRED"));
  EXPECT_EQ(ls.out.find('\x1b'), std::string::npos) << ls.out;
  EXPECT_EQ(inspect.code, 1) << inspect.out;
  EXPECT_THAT(inspect.out, HasSubstr("-evil\\x1b]0;TITLE"));
  EXPECT_EQ(inspect.out.find('\x1b'), std::string::npos) << inspect.out;
}

TEST_F(QueueCommandsTest, RmRemovesAndReportsMissing) {
  { ASSERT_TRUE(SyncQueue::Create(name_, 4096).ok()); }
  Result rm = RunCli("queue rm " + name_);
  ASSERT_EQ(rm.code, 0) << rm.out;
  struct stat st;
  EXPECT_NE(::stat(("/dev/shm/syncstream-queue." + name_).c_str(), &st), 0);
  Result again = RunCli("queue rm " + name_);
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.out, HasSubstr("queue '" + name_ + "': cannot remove"));
  Result missing = RunCli("queue inspect " + name_);
  EXPECT_EQ(missing.code, 1);
}

// rm of a queue that live participants use needs --force; a killed one's
// queue (everyone dead) goes without.
TEST_F(QueueCommandsTest, RmOfALiveQueueNeedsForce) {
  { ASSERT_TRUE(SyncQueue::Create(name_, 4096).ok()); }
  const pid_t live = ForkAttached(name_, "busy", QueueRole::kBoth);
  ASSERT_GT(live, 0);
  Result rm = RunCli("queue rm " + name_);
  EXPECT_EQ(rm.code, 1) << rm.out;
  EXPECT_THAT(rm.out, HasSubstr("queue '" + name_ + "': not removed: 1 live participant"));
  EXPECT_THAT(rm.out, HasSubstr("busy (pid " + std::to_string(live) + ")"));
  EXPECT_THAT(rm.out, HasSubstr("--force"));
  EXPECT_EQ(ParticipantsOf(name_).size(), 1u) << "the queue is still there";
  rm = RunCli("queue rm --force " + name_);
  EXPECT_EQ(rm.code, 0) << rm.out;
  EXPECT_EQ(SyncQueue::Open(name_).status().code(), absl::StatusCode::kNotFound);
  KillAndReap(live);
}

// append with no reader attached says that the message is dropped and fails;
// with a reader it is delivered.
TEST_F(QueueCommandsTest, AppendWithNoReaderSaysTheMessageIsDropped) {
  auto q = SyncQueue::Create(name_, 4096);
  ASSERT_TRUE(q.ok());
  Result append = RunCli("queue append " + name_ + " t lost");
  EXPECT_EQ(append.code, 1) << append.out;
  EXPECT_THAT(append.out, HasSubstr("no reader is attached: the message was dropped"));
  auto reader = q->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(reader.ok());
  append = RunCli("queue append " + name_ + " t kept");
  EXPECT_EQ(append.code, 0) << append.out;
  auto m = reader->Pop(PopOptions{.timeout = absl::Seconds(10)});
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->body, "kept");
}

// A queue that others may write is refused by tail and append unless
// --allow_shared_queue.
TEST_F(QueueCommandsTest, SharedWritableQueueIsRefusedUnlessAllowed) {
  auto q = SyncQueue::Create(name_, 4096, QueueOptions{.mode = 0666});
  ASSERT_TRUE(q.ok());
  auto reader = q->Attach("r", QueueRole::kReader);
  ASSERT_TRUE(reader.ok());
  Result append = RunCli("queue append " + name_ + " t secret");
  EXPECT_EQ(append.code, 1) << append.out;
  EXPECT_THAT(append.out, HasSubstr("mode 0666"));
  EXPECT_THAT(append.out, HasSubstr("--allow_shared_queue"));
  append = RunCli("queue append --allow_shared_queue " + name_ + " t shared");
  EXPECT_EQ(append.code, 0) << append.out;
}

TEST_F(QueueCommandsTest, EveryCommandHasHelp) {
  for (const char* c : {"ls", "inspect", "tail", "repair", "rm", "append"}) {
    Result r = RunCli(absl::StrCat("queue ", c, " --help"));
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("usage: syncstream queue ", c))) << c;
  }
  EXPECT_THAT(RunCli("queue inspect --help").out, HasSubstr("--json"));
  EXPECT_THAT(RunCli("queue tail --help").out, HasSubstr("-n N"));
}

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) return 2;
  syncstream::binary = argv[1];
  return RUN_ALL_TESTS();
}
