// `syncstream queue ...`: list, inspect, follow, repair and remove the
// shared-memory queues of this machine (syncstream/queue/sync_queue.h).
#include <gflags/gflags.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "syncstream/proc/line_proc_buffer.h"
#include "syncstream/queue/sync_queue.h"
#include "tools/command.h"
#include "tools/common_flags.h"  // -n, --json, --force
#include "tools/record_output.h"

DEFINE_bool(allow_shared_queue, false,
            "queue tail, queue append: attach also to a queue that belongs to "
            "another user or that group or others may write (refused by default: "
            "whoever can write it reads and forges every message)");
DEFINE_bool(orphaned, false,
            "queue rm: remove only orphaned queues (they have participants and all "
            "of them are dead; see queue ls) and LineProcBuffer control blocks "
            "whose queue is gone: of the names given, or every one on the machine "
            "when none is given");

namespace syncstream::tools {
namespace {

int Fail(const absl::Status& status) {
  std::cerr << "syncstream queue: " << TerminalSafe(status.message()) << "\n";
  return 1;
}

bool OneName(const std::vector<std::string>& args, const char* command) {
  if (args.size() == 1) return true;
  std::cerr << "usage: syncstream queue " << command << " NAME (see --help)\n";
  return false;
}

// The queue names of the LineProcBuffer control blocks whose queue is not
// among `queues` (a killed buffer's, after its queue was removed alone).
absl::StatusOr<std::vector<std::string>> StrayControlBlocks(
    const std::vector<QueueListing>& queues) {
  auto blocks = LineProcBuffer::ListControlBlocks();
  if (!blocks.ok()) return blocks.status();
  std::vector<std::string> stray;
  for (const std::string& block : *blocks) {
    const bool has_queue = std::any_of(queues.begin(), queues.end(),
                                       [&](const QueueListing& q) { return q.name == block; });
    if (!has_queue) stray.push_back(block);
  }
  return stray;
}

int RunLs(const std::vector<std::string>& args) {
  auto queues = SyncQueue::List();
  if (!queues.ok()) return Fail(queues.status());
  if (FLAGS_json) {
    std::vector<std::string> items;
    for (const QueueListing& q : *queues) {
      items.push_back(absl::StrCat("{\"name\":", JsonString(q.name),
                                   ",\"segment_bytes\":", q.segment_bytes,
                                   ",\"capacity_bytes\":", q.capacity_bytes,
                                   ",\"participants\":", q.participants,
                                   ",\"dead_participants\":", q.dead_participants,
                                   ",\"orphaned\":", q.orphaned() ? "true" : "false",
                                   ",\"problem\":", JsonString(q.problem), "}"));
    }
    std::cout << "[" << absl::StrJoin(items, ",") << "]\n";
    return 0;
  }
  std::cout << absl::StrFormat("%-32s %12s %12s %12s %6s\n", "NAME", "SEGMENT", "CAPACITY",
                               "PARTICIPANTS", "DEAD");
  int orphaned = 0;
  for (const QueueListing& q : *queues) {
    if (q.participants < 0) {
      std::cout << absl::StrFormat("%-32s %s\n", TerminalSafe(q.name),
                                   TerminalSafe(q.problem));
    } else {
      std::cout << absl::StrFormat("%-32s %12d %12d %12d %6d%s\n", TerminalSafe(q.name),
                                   q.segment_bytes,
                                   q.capacity_bytes, q.participants, q.dead_participants,
                                   q.orphaned() ? "  orphaned" : "");
      if (q.orphaned()) ++orphaned;
    }
  }
  if (orphaned > 0) {
    std::cout << orphaned
              << " orphaned queue(s): every participant's process is gone, so nobody will "
                 "unlink them; `syncstream queue rm --orphaned` removes them\n";
  }
  auto stray = StrayControlBlocks(*queues);
  if (!stray.ok()) return Fail(stray.status());
  if (!stray->empty()) {
    std::cout << stray->size() << " LineProcBuffer control block(s) whose queue is gone: "
              << TerminalSafe(absl::StrJoin(*stray, " "))
              << "; `syncstream queue rm --orphaned` removes them\n";
  }
  return 0;
}

std::string SnapshotJson(const QueueSnapshot& s) {
  std::vector<std::string> participants;
  for (const ParticipantInfo& p : s.participants) {
    participants.push_back(absl::StrCat(
        "{\"slot\":", p.slot, ",\"name\":", JsonString(p.name),
        ",\"role\":", JsonString(QueueRoleName(p.role)), ",\"pid\":", p.pid,
        ",\"alive\":", p.alive ? "true" : "false",
        ",\"attached\":", JsonString(IsoTime(p.attached)),
        ",\"messages_read\":", p.messages_read, ",\"lag_messages\":", p.lag_messages,
        ",\"lag_bytes\":", p.lag_bytes, ",\"filters\":", JsonString(p.filters), "}"));
  }
  auto optional_number = [](const std::optional<uint64_t>& v) {
    return v ? absl::StrCat(*v) : std::string("null");
  };
  return absl::StrCat(
      "{\"name\":", JsonString(s.name), ",\"path\":", JsonString(s.path),
      ",\"layout_version\":", s.layout_version, ",\"segment_bytes\":", s.segment_bytes,
      ",\"capacity_bytes\":", s.capacity_bytes, ",\"used_bytes\":", s.used_bytes,
      ",\"free_bytes\":", s.free_bytes, ",\"head\":", s.head, ",\"tail\":", s.tail,
      ",\"message_count\":", s.message_count, ",\"pending_frames\":", s.pending_frames,
      ",\"oldest_sequence\":", optional_number(s.oldest_sequence),
      ",\"newest_sequence\":", optional_number(s.newest_sequence),
      ",\"max_participants\":", s.max_participants,
      ",\"mode\":", JsonString(absl::StrFormat("%04o", s.mode)),
      ",\"created\":", JsonString(IsoTime(s.created)),
      ",\"lock_recoveries\":", s.lock_recoveries, ",\"abandoned_frames\":", s.abandoned_frames,
      ",\"released_participants\":", s.released_participants,
      ",\"participants\":[", absl::StrJoin(participants, ","), "]}");
}

int RunInspect(const std::vector<std::string>& args) {
  if (!OneName(args, "inspect")) return 2;
  auto q = SyncQueue::Open(args[0]);
  if (!q.ok()) return Fail(q.status());
  auto s = q->Inspect();
  if (!s.ok()) return Fail(s.status());
  if (FLAGS_json) {
    std::cout << SnapshotJson(*s) << "\n";
    return 0;
  }
  std::cout << "queue " << TerminalSafe(s->name) << " (" << TerminalSafe(s->path)
            << ", layout " << s->layout_version
            << ", mode " << absl::StrFormat("%04o", s->mode) << ", created "
            << IsoTime(s->created) << ")\n"
            << "  capacity " << s->capacity_bytes << " bytes: " << s->used_bytes << " used, "
            << s->free_bytes << " free\n"
            << "  messages " << s->message_count;
  if (s->oldest_sequence) {
    std::cout << " (sequence " << *s->oldest_sequence << " to " << *s->newest_sequence << ")";
  }
  std::cout << ", " << s->pending_frames << " being written\n"
            << "  repairs: " << s->lock_recoveries << " lock recoveries, " << s->abandoned_frames
            << " abandoned frames, " << s->released_participants << " dead participants released\n"
            << "  participants " << s->participants.size() << " of " << s->max_participants
            << "\n";
  if (!s->participants.empty()) {
    std::cout << absl::StrFormat("    %-20s %-6s %8s %-5s %10s %10s %12s  %s\n", "NAME", "ROLE",
                                 "PID", "STATE", "READ", "LAG", "LAG BYTES", "FILTERS");
  }
  for (const ParticipantInfo& p : s->participants) {
    std::cout << absl::StrFormat("    %-20s %-6s %8d %-5s %10d %10d %12d  %s\n",
                                 TerminalSafe(p.name),
                                 QueueRoleName(p.role), p.pid, p.alive ? "alive" : "dead",
                                 p.messages_read, p.lag_messages, p.lag_bytes,
                                 TerminalSafe(p.filters));
  }
  return 0;
}

std::atomic<bool> interrupted{false};
void OnInterrupt(int) { interrupted.store(true); }

int RunTail(const std::vector<std::string>& args) {
  if (!OneName(args, "tail")) return 2;
  absl::StatusOr<RecordOutputOptions> output =
      RecordOutputOptionsFromFlags(RecordFormat::kTagged);
  if (!output.ok()) {
    std::cerr << "syncstream queue tail: " << output.status().message() << "\n";
    return 2;
  }
  auto q = SyncQueue::Open(args[0]);
  if (!q.ok()) return Fail(q.status());
  struct sigaction action = {};
  action.sa_handler = &OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  AttachOptions options;
  options.screen_own_messages = false;
  options.unlink_on_last_close = false;  // watching never removes the queue
  // -n N: first the last N messages still in the queue (0: all of them).
  options.replay_last = FLAGS_n > 0 ? static_cast<uint32_t>(FLAGS_n) : UINT32_MAX;
  options.allow_shared_queue = FLAGS_allow_shared_queue;
  auto me = q->Attach(absl::StrCat("tail-", ::getpid()), QueueRole::kReader, options);
  if (!me.ok()) return Fail(me.status());
  RecordPrinter printer(std::cout, *output);
  Record record;  // a message as a line record (the queue's sequence number)
  int code = 0;
  while (!interrupted.load()) {
    auto n = me->ForEachAvailable(
        [&](const QueueMessageView& m) {
          record.sender.assign(m.sender.data(), m.sender.size());
          record.type.assign(m.type.data(), m.type.size());
          record.text.assign(m.body.data(), m.body.size());
          record.sequence = m.sequence;
          record.timestamp = m.timestamp;
          printer.Print(record);
        },
        PopOptions{absl::Milliseconds(200)}, 1024);
    if (!n.ok()) {
      code = Fail(n.status());
      break;
    }
    printer.Flush();
  }
  printer.Finish();
  absl::Status closed = me->Close(CloseOptions{.keep = true});
  if (!closed.ok() && code == 0) code = Fail(closed);
  return code;
}

int RunAppend(const std::vector<std::string>& args) {
  if (args.size() != 3) {
    std::cerr << "usage: syncstream queue append NAME TYPE BODY\n";
    return 2;
  }
  auto q = SyncQueue::Open(args[0]);
  if (!q.ok()) return Fail(q.status());
  AttachOptions options;
  options.unlink_on_last_close = false;
  options.allow_shared_queue = FLAGS_allow_shared_queue;
  auto me = q->Attach(absl::StrCat("cli-", ::getpid()), QueueRole::kWriter, options);
  if (!me.ok()) return Fail(me.status());
  // A message goes to the readers attached when it is appended; with none,
  // the queue drops it at once. Say so, and fail, rather than exit 0 for a
  // message nobody will ever read.
  auto snapshot = q->Inspect();
  if (!snapshot.ok()) return Fail(snapshot.status());
  const bool has_reader = std::any_of(
      snapshot->participants.begin(), snapshot->participants.end(), [](const ParticipantInfo& p) {
        return p.alive && (static_cast<uint32_t>(p.role) & static_cast<uint32_t>(QueueRole::kReader));
      });
  if (!has_reader) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "queue '", args[0], "': no reader is attached: the message was dropped (a queue "
        "delivers only to readers attached when a message is appended)")));
  }
  absl::Status st = me->Append(args[1], args[2], AppendOptions{.block = true});
  if (!st.ok()) return Fail(st);
  return 0;
}

int RunRepair(const std::vector<std::string>& args) {
  if (!OneName(args, "repair")) return 2;
  auto q = SyncQueue::Open(args[0]);
  if (!q.ok()) return Fail(q.status());
  auto report = q->Repair();
  if (!report.ok()) return Fail(report.status());
  std::cout << "queue " << TerminalSafe(args[0]) << ": "
            << (report->lock_recovered ? "recovered the lock of a dead holder; " : "")
            << "released " << report->released.size() << " dead participant(s)"
            << (report->released.empty()
                    ? ""
                    : ": " + TerminalSafe(absl::StrJoin(report->released, ", ")))
            << "; skipped " << report->abandoned_frames << " abandoned frame(s); reclaimed "
            << report->reclaimed_bytes << " bytes\n";
  return 0;
}

// Removes the control block that a LineProcBuffer's queue `name` has beside
// it, which a buffer that was killed leaves behind: after the queue was
// removed, or alone when `queue_gone`. Returns whether there was one; any
// error but NotFound is reported and sets *code to 1.
bool RemoveControlBlockOf(const std::string& name, bool queue_gone, int* code) {
  absl::Status st = LineProcBuffer::RemoveControlBlock(name);
  if (st.ok()) {
    std::cout << "removed the LineProcBuffer control block of " << TerminalSafe(name)
              << (queue_gone ? " (its queue is gone)" : "") << "\n";
    return true;
  }
  if (!absl::IsNotFound(st)) *code = Fail(st);
  return false;
}

// queue rm --orphaned [NAME...]: of `names` (a missing one is an error,
// unless a control block of that name is left), or of every queue that `ls`
// flags as orphaned and every stray control block when none is given,
// removes those whose participants are all dead, each decided again under
// its lock (SyncQueue::RemoveIfOrphaned), and the stray blocks.
int RemoveOrphaned(const std::vector<std::string>& names) {
  std::vector<std::string> candidates = names;
  if (names.empty()) {
    auto queues = SyncQueue::List();
    if (!queues.ok()) return Fail(queues.status());
    for (const QueueListing& listed : *queues) {
      if (listed.orphaned()) candidates.push_back(listed.name);
    }
    auto stray = StrayControlBlocks(*queues);
    if (!stray.ok()) return Fail(stray.status());
    candidates.insert(candidates.end(), stray->begin(), stray->end());
  }
  int code = 0;
  int removed = 0;
  for (const std::string& name : candidates) {
    auto q = SyncQueue::Open(name);
    if (!q.ok()) {
      if (absl::IsNotFound(q.status()) && RemoveControlBlockOf(name, true, &code)) {
        ++removed;
        continue;
      }
      // Listed a moment ago: removed meanwhile. Named: the user's mistake.
      if (!names.empty() || !absl::IsNotFound(q.status())) code = Fail(q.status());
      continue;
    }
    auto done = q->RemoveIfOrphaned();
    if (!done.ok()) {
      code = Fail(done.status());
    } else if (*done) {
      ++removed;
      std::cout << "removed " << TerminalSafe(name) << " (orphaned: every participant dead)\n";
      RemoveControlBlockOf(name, false, &code);
    } else if (!names.empty()) {
      std::cout << "kept " << TerminalSafe(name) << " (not orphaned: a participant is alive, or none is attached)\n";
    }
  }
  if (removed == 0 && code == 0 && names.empty()) std::cout << "no orphaned queue\n";
  return code;
}

int RunRm(const std::vector<std::string>& args) {
  if (FLAGS_orphaned) return RemoveOrphaned(args);
  if (args.empty()) {
    std::cerr << "usage: syncstream queue rm NAME... | --orphaned [NAME...]\n";
    return 2;
  }
  int code = 0;
  for (const std::string& name : args) {
    // A queue that live participants use is removed only with --force: they
    // would carry on, on a segment nobody can attach to any more.
    if (auto q = SyncQueue::Open(name); q.ok() && !FLAGS_force) {
      auto snapshot = q->Inspect();
      if (!snapshot.ok()) {
        code = Fail(snapshot.status());
        continue;
      }
      std::vector<std::string> live;
      for (const ParticipantInfo& p : snapshot->participants) {
        if (p.alive) live.push_back(absl::StrCat(TerminalSafe(p.name), " (pid ", p.pid, ")"));
      }
      if (!live.empty()) {
        code = Fail(absl::FailedPreconditionError(absl::StrCat(
            "queue '", name, "': not removed: ", live.size(), " live participant(s) still use it: ",
            absl::StrJoin(live, ", "),
            "; --force removes it anyway (they carry on, but nobody can attach any more)")));
        continue;
      }
    }
    absl::Status st = SyncQueue::Remove(name);
    if (absl::IsNotFound(st) && RemoveControlBlockOf(name, true, &code)) continue;
    if (!st.ok()) {
      code = Fail(st);
    } else {
      RemoveControlBlockOf(name, false, &code);
    }
  }
  return code;
}

}  // namespace

SYNCSTREAM_REGISTER_COMMAND(queue_ls, "queue ls", "[--json]",
                            "List the shared-memory queues with their size, participant "
                            "count and how many of those participants are dead; flags "
                            "orphaned queues (every participant dead), and names the "
                            "LineProcBuffer control blocks whose queue is gone (not in "
                            "--json).",
                            RunLs);
SYNCSTREAM_REGISTER_COMMAND(queue_inspect, "queue inspect", "NAME [--json]",
                            "Show a queue's header, usage and participants.", RunInspect);
SYNCSTREAM_REGISTER_COMMAND(queue_tail, "queue tail",
                            absl::StrCat("NAME [-n N] [--allow_shared_queue] ", kRecordOutputUsage,
                                         "  (-n: first the last N messages held, "
                                         "default 10, 0: all)"),
                            "Print messages as they arrive until interrupted (Ctrl-C): "
                            "time, sender, type and body (--format=tagged) by default; "
                            "names and bodies with control characters escaped unless "
                            "--raw.",
                            RunTail);
SYNCSTREAM_REGISTER_COMMAND(queue_append, "queue append", "NAME TYPE BODY [--allow_shared_queue]",
                            "Append one message (waits up to 0.5 s for space). With no "
                            "reader attached the message would be dropped: it is not "
                            "appended, and the exit status is 1.", RunAppend);
SYNCSTREAM_REGISTER_COMMAND(queue_repair, "queue repair", "NAME",
                            "Release dead participants, skip abandoned frames, report.",
                            RunRepair);
SYNCSTREAM_REGISTER_COMMAND(queue_rm, "queue rm", "[--force] NAME... | --orphaned [NAME...]",
                            "Remove queues by name (one with live participants only with "
                            "--force), each with the control block that a "
                            "LineProcBuffer killed before its destructor leaves beside its "
                            "queue (or that block alone, when its queue is gone); with "
                            "--orphaned, only orphaned queues (all participants dead, as "
                            "queue ls flags them) and blocks whose queue is gone: those "
                            "named, or every one on the machine.",
                            RunRm);

}  // namespace syncstream::tools
