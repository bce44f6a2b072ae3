#include "syncstream/proc/line_proc_buffer.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/proc/internal/channel.h"
#include "syncstream/proc/internal/record_batch.h"

namespace syncstream {

using proc_internal::BatchHeader;
using proc_internal::Channel;

namespace {

constexpr absl::string_view kBufferSender = "LineProcBuffer";
// Messages handled per collector round, so that liveness checks keep their
// pace under a flood.
constexpr size_t kMessagesPerRound = 1024;

std::string UniqueQueueName() {
  std::random_device random;
  return absl::StrCat("proc.", ::getpid(), ".",
                      absl::Hex(random(), absl::kZeroPad8));
}

// How process `pid` ended, if it is a child of this process that nobody has
// reaped yet (waitid with WNOWAIT leaves it for its owner to reap). A
// multi-threaded process looks dead (its main thread is a zombie) a moment
// before it can be waited for: give it up to a second.
std::string DescribeEnd(pid_t pid) {
  absl::Time deadline = ::syncstream::Now() + absl::Seconds(1);
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) break;
    if (info.si_pid == pid) {
      ExitStatus status;
      if (info.si_code == CLD_EXITED) {
        status = ExitStatus::Exited(info.si_status);
      } else {
        status = ExitStatus::Signaled(info.si_status);
        status.core_dumped = info.si_code == CLD_DUMPED;
      }
      return status.ToString();
    }
    if (::syncstream::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return "ended (exit status unknown: not a child of this process, or "
         "already reaped)";
}

}  // namespace

absl::string_view MirrorStateName(MirrorState state) {
  switch (state) {
    case MirrorState::kOpen:
      return "open";
    case MirrorState::kClosed:
      return "closed";
    case MirrorState::kDied:
      return "died";
    case MirrorState::kForceStopped:
      return "force-stopped";
  }
  return "unknown";
}

struct LineProcBuffer::SpawnedProgram {
  std::unique_ptr<LineProcMirror> mirror;
  std::unique_ptr<RunningProgram> program;  // destroyed before its mirror
};

// The default queue_bytes, 4 MiB, is about the size of a core's L2 cache
// (10 ms of a flood of 64-byte lines): with 16 MiB every frame went out to
// L3 before the collector read it, and each process mapped in four times as
// many pages, about 12 CPU ns more per collected line in all.
absl::StatusOr<std::unique_ptr<LineProcBuffer>> LineProcBuffer::Create(
    size_t maxlen, LineProcBufferOptions options) {
  if (maxlen == 0) {
    return absl::InvalidArgumentError(
        "LineProcBuffer: maxlen must be at least 1");
  }
  if (options.liveness_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "LineProcBuffer: liveness_interval must be positive");
  }
  if (options.max_mirror_processes < 1 ||
      options.max_mirror_processes > 4095) {
    return absl::InvalidArgumentError(
        "LineProcBuffer: max_mirror_processes must be in [1, 4095]");
  }
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<RecordBlockStore> store,
                              RecordBlockStore::Create(maxlen));
  std::string name = options.queue_name.empty() ? UniqueQueueName()
                                                : options.queue_name;
  QueueOptions queue_options;
  queue_options.max_participants = options.max_mirror_processes + 1;
  SYNCSTREAM_ASSIGN_OR_RETURN(
      SyncQueue queue,
      SyncQueue::Create(name, options.queue_bytes, queue_options));
  proc_internal::MirrorSettings settings;
  settings.batch_bytes = options.batch_bytes;
  settings.batch_records = options.batch_records;
  settings.flush_interval = options.flush_interval;
  settings.send_timeout = options.send_timeout;
  settings.max_line_length = options.max_line_length;
  absl::StatusOr<proc_internal::ControlBlock> control =
      proc_internal::ControlBlock::Create(
          name, settings, queue.max_body_bytes(63, 1));
  if (!control.ok()) {
    SyncQueue::Remove(name).IgnoreError();
    return control.status();
  }
  absl::StatusOr<QueueParticipant> reader =
      queue.Attach("LineProcBuffer", QueueRole::kReader);
  if (!reader.ok()) {
    SyncQueue::Remove(name).IgnoreError();
    return reader.status();
  }
  options.queue_name = name;
  auto channel =
      std::make_shared<Channel>(Channel{std::move(queue), *std::move(control)});
  return std::unique_ptr<LineProcBuffer>(
      new LineProcBuffer(std::move(store), std::move(channel),
                         *std::move(reader), std::move(options)));
}

LineProcBuffer::LineProcBuffer(std::unique_ptr<RecordBlockStore> store,
                               std::shared_ptr<Channel> channel,
                               QueueParticipant reader,
                               LineProcBufferOptions options)
    : options_(std::move(options)),
      queue_name_(options_.queue_name),
      own_pid_(::getpid()),
      store_(std::move(store)),
      channel_(std::move(channel)),
      reader_(std::move(reader)) {
  collector_ = std::thread([this] { CollectorLoop(); });
}

absl::Status LineProcBuffer::RemoveControlBlock(absl::string_view queue_name) {
  return proc_internal::ControlBlock::Remove(queue_name);
}

absl::StatusOr<std::vector<std::string>> LineProcBuffer::ListControlBlocks() {
  return proc_internal::ControlBlock::List();
}

LineProcBuffer::~LineProcBuffer() {
  TakeSpawned().clear();  // kills and ends the programs, closes their mirrors
  shutdown_.store(true);
  collector_.join();
  reader_.Close().IgnoreError();
  SyncQueue::Remove(queue_name_).IgnoreError();  // even if children hold it
}

std::vector<std::unique_ptr<LineProcBuffer::SpawnedProgram>>
LineProcBuffer::TakeSpawned() {
  std::lock_guard<std::mutex> guard(mutex_);
  return std::exchange(spawned_, {});
}

absl::StatusOr<std::unique_ptr<LineProcMirror>> LineProcBuffer::NewMirror(
    absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("LineProcBuffer: empty mirror name");
  }
  proc_internal::MirrorToken token;
  token.queue_name = queue_name_;
  token.mirror_name = std::string(name);
  {
    std::lock_guard<std::mutex> guard(mutex_);
    token.generation = generation_;
    token.mirror_id = static_cast<uint32_t>(mirrors_.size());
    MirrorEntry entry;
    entry.name = token.mirror_name;
    mirrors_.push_back(std::move(entry));
  }
  return std::unique_ptr<LineProcMirror>(new LineProcMirror(channel_, token));
}

absl::StatusOr<RunningProgram*> LineProcBuffer::Spawn(ProgramOptions options) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("LineProcBuffer::Spawn: empty argv");
  }
  if (options.name.empty()) {
    const std::string& program = options.argv[0];
    options.name = program.substr(program.rfind('/') + 1);
  }
  auto spawned = std::make_unique<SpawnedProgram>();
  SYNCSTREAM_ASSIGN_OR_RETURN(spawned->mirror, NewMirror(options.name));
  SYNCSTREAM_RETURN_IF_ERROR(spawned->mirror->Open());
  absl::StatusOr<std::unique_ptr<RunningProgram>> program =
      RunningProgram::Start(*spawned->mirror, std::move(options));
  if (!program.ok()) {
    // The mirror was announced by this (living) process: close it so that
    // Wait() does not wait for a program that never started.
    spawned->mirror->SendError(program.status()).IgnoreError();
    return program.status();
  }
  spawned->program = *std::move(program);
  RunningProgram* pointer = spawned->program.get();
  std::lock_guard<std::mutex> guard(mutex_);
  spawned_.push_back(std::move(spawned));
  return pointer;
}

absl::Status LineProcBuffer::Wait(absl::Duration timeout) {
  absl::Time deadline = DeadlineAfter(timeout);
  std::unique_lock<std::mutex> lock(mutex_);
  auto open = [this] {
    for (const MirrorEntry& entry : mirrors_) {
      if (entry.state == MirrorState::kOpen) return true;
    }
    return false;
  };
  auto open_names = [this] {
    std::vector<std::string> names;
    for (const MirrorEntry& entry : mirrors_) {
      if (entry.state != MirrorState::kOpen) continue;
      names.push_back(entry.announced
                          ? absl::StrCat("'", entry.name, "' (pid ", entry.process.pid, ")")
                          : absl::StrCat("'", entry.name, "' (never opened)"));
    }
    return names;
  };
  while (open()) {
    if (!read_failure_.ok()) {
      const std::vector<std::string> names = open_names();
      return absl::DataLossError(absl::StrCat(read_failure_.message(), "; ", names.size(),
                                              " mirror(s) still open: ",
                                              absl::StrJoin(names, ", ")));
    }
    if (deadline == absl::InfiniteFuture()) {
      changed_.wait(lock);
      continue;
    }
    absl::Duration left = TimeLeft(deadline);
    if (left <= absl::ZeroDuration()) {
      const std::vector<std::string> names = open_names();
      return absl::DeadlineExceededError(absl::StrCat(
          "LineProcBuffer '", queue_name_, "': ", names.size(),
          " mirror(s) still open after ", absl::FormatDuration(timeout), ": ",
          absl::StrJoin(names, ", ")));
    }
    changed_.wait_for(lock, absl::ToChronoNanoseconds(left));
  }
  std::vector<std::string> shared;
  for (const MirrorEntry& entry : mirrors_) {
    if (entry.other_pids.empty()) continue;
    shared.push_back(absl::StrCat("'", entry.name, "' (pids ", entry.process.pid, ", ",
                                  absl::StrJoin(entry.other_pids, ", "), ")"));
  }
  if (!shared.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "LineProcBuffer '", queue_name_, "': ", shared.size(),
        " mirror(s) used by several processes: ", absl::StrJoin(shared, ", "),
        "; each stream ended when the first of its processes closed it, so the others' "
        "records may still be on their way: give each process its own mirror (NewMirror)"));
  }
  return absl::OkStatus();
}

void LineProcBuffer::StopAllMirrors() {
  std::lock_guard<std::mutex> guard(mutex_);
  channel_->control.StopThrough(generation_);
}

void LineProcBuffer::ForceStop() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    channel_->control.StopThrough(generation_);
    for (MirrorEntry& entry : mirrors_) {
      if (entry.state == MirrorState::kOpen) {
        entry.state = MirrorState::kForceStopped;
      }
    }
  }
  changed_.notify_all();
}

void LineProcBuffer::Reset() {
  TakeSpawned().clear();
  std::lock_guard<std::mutex> delivery(delivery_mutex_);
  {
    std::lock_guard<std::mutex> guard(mutex_);
    channel_->control.StopThrough(generation_);
    ++generation_;
    current_generation_.store(generation_);
    mirrors_.clear();
  }
  changed_.notify_all();
  store_->Clear();
}

std::vector<MirrorInfo> LineProcBuffer::Mirrors() const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<MirrorInfo> out;
  for (const MirrorEntry& entry : mirrors_) {
    out.push_back({entry.name, entry.state,
                   entry.announced ? entry.process.pid : 0});
  }
  return out;
}

void LineProcBuffer::StoreNote(RecordKind kind, std::string sender,
                               std::string type, std::string text) {
  Record record;
  record.kind = kind;
  record.sender = std::move(sender);
  record.type = std::move(type);
  record.timestamp = ::syncstream::Now();
  record.text = std::move(text);
  store_->Append(std::move(record));
}

void LineProcBuffer::HandleBatch(const QueueMessageView& message) {
  // Copied out of the queue, then validated: the copy is the collector's
  // own, so the writer cannot change it after it was checked, and the store
  // keeps it as it is (its records are decoded when read).
  absl::StatusOr<std::shared_ptr<const proc_internal::ValidatedBatch>> batch =
      proc_internal::ValidatedBatch::Copy(message.body);
  std::lock_guard<std::mutex> delivery(delivery_mutex_);
  if (!batch.ok()) {
    dropped_batches_.fetch_add(1);
    StoreNote(RecordKind::kWarning, std::string(kBufferSender), "",
              absl::StrCat("dropped an invalid batch from queue participant '",
                           message.sender, "': ", batch.status().message()));
    return;
  }
  const uint32_t generation = current_generation_.load();
  size_t mirror_count = 0;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    mirror_count = mirrors_.size();
  }
  // A batch from before a Reset(), or naming a mirror that was never made,
  // delivers nothing.
  const BatchHeader header = (*batch)->header();
  if (header.generation != generation || header.mirror_id >= mirror_count) {
    return;
  }
  store_->Append(*std::move(batch));
  bool changed = false;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (header.generation != generation_ ||
        header.mirror_id >= mirrors_.size()) {
      return;
    }
    MirrorEntry& entry = mirrors_[header.mirror_id];
    if (header.pid > 0 && !entry.announced) {
      entry.announced = true;
      entry.process.pid = header.pid;
      entry.process.start_time = header.start_time;
    } else if (header.pid > 0 && entry.process.pid != header.pid &&
               std::find(entry.other_pids.begin(), entry.other_pids.end(), header.pid) ==
                   entry.other_pids.end()) {
      // One mirror, several processes (sync-stream's `(mirror,) * 4`): its
      // stream ends with whichever closes first. Said at once, and by Wait().
      entry.other_pids.push_back(header.pid);
      StoreNote(RecordKind::kError, entry.name, "shared",
                absl::StrCat("mirror '", entry.name, "' is used by process ", header.pid,
                             " as well as by process ", entry.process.pid,
                             ": give each process its own mirror (NewMirror)"));
    }
    if ((header.flags & proc_internal::kBatchMirrorClosed) &&
        entry.state == MirrorState::kOpen) {
      entry.state = MirrorState::kClosed;
      changed = true;
    }
  }
  if (changed) changed_.notify_all();
}

absl::StatusOr<size_t> LineProcBuffer::Drain(absl::Duration timeout,
                                             size_t max) {
  PopOptions options;
  options.timeout = timeout;
  return reader_.ForEachAvailable(
      [this](const QueueMessageView& message) { HandleBatch(message); },
      options, max);
}

void LineProcBuffer::DrainEverythingQueued(absl::Duration timeout) {
  // The reader's position is in the queue's snapshot (this buffer is its
  // only reader); positions only grow.
  auto reader_position = [](const QueueSnapshot& snapshot) -> uint64_t {
    for (const ParticipantInfo& p : snapshot.participants) {
      if (p.role == QueueRole::kReader) return snapshot.tail - p.lag_bytes;
    }
    return snapshot.tail;
  };
  absl::StatusOr<QueueSnapshot> before = channel_->queue.Inspect();
  const absl::Time deadline = DeadlineAfter(timeout);
  for (;;) {
    absl::StatusOr<size_t> drained = Drain(absl::ZeroDuration(), SIZE_MAX);
    if (!drained.ok() || !before.ok()) return;
    if (*drained > 0) continue;
    absl::StatusOr<QueueSnapshot> now = channel_->queue.Inspect();
    if (!now.ok() || reader_position(*now) >= before->tail) return;
    if (TimeLeft(deadline) <= absl::ZeroDuration()) return;
    // Blocked by a frame in progress: wait for it (a dead writer's frame is
    // skipped by the queue after a moment).
    drained = Drain(absl::Milliseconds(1), SIZE_MAX);
    if (!drained.ok()) return;
  }
}

void LineProcBuffer::CheckLiveness() {
  struct Suspect {
    uint32_t id;
    ProcessIdentity process;
  };
  std::vector<Suspect> suspects;
  uint32_t generation;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    generation = generation_;
    for (uint32_t id = 0; id < mirrors_.size(); ++id) {
      const MirrorEntry& entry = mirrors_[id];
      if (entry.state != MirrorState::kOpen || !entry.announced ||
          entry.process.pid == own_pid_) {
        continue;
      }
      suspects.push_back({id, entry.process});
    }
  }
  // Checked without the lock: reading /proc takes a while.
  std::vector<Suspect> dead;
  for (const Suspect& suspect : suspects) {
    if (!IsProcessAlive(suspect.process)) dead.push_back(suspect);
  }
  if (dead.empty()) return;
  // Everything a dead process committed is in the queue now: take it in
  // before declaring the death, so its last lines come first, and so a
  // process that closed its mirror just before it ended is not reported
  // dead. Its closing batch may lie behind a frame that another writer is
  // still copying: draining until the queue looks empty would stop there.
  DrainEverythingQueued(absl::Seconds(1));
  bool changed = false;
  for (const Suspect& suspect : dead) {
    std::string how = DescribeEnd(suspect.process.pid);
    std::lock_guard<std::mutex> guard(mutex_);
    if (generation != generation_ || suspect.id >= mirrors_.size()) break;
    MirrorEntry& entry = mirrors_[suspect.id];
    if (entry.state != MirrorState::kOpen ||
        entry.process.pid != suspect.process.pid) {
      continue;
    }
    entry.state = MirrorState::kDied;
    changed = true;
    StoreNote(RecordKind::kError, entry.name, "died",
              absl::StrCat("process ", suspect.process.pid, " ", how,
                           " without closing mirror '", entry.name, "'"));
  }
  if (changed) changed_.notify_all();
}

void LineProcBuffer::CollectorLoop() {
  const absl::Duration interval = options_.liveness_interval;
  absl::Time next_check = ::syncstream::Now() + interval;
  bool reported = false;
  while (!shutdown_.load()) {
    absl::StatusOr<size_t> drained =
        Drain(std::min(interval, absl::Milliseconds(20)), kMessagesPerRound);
    if (!drained.ok()) {
      if (!reported) {  // once: the queue is broken, not each message
        reported = true;
        const std::string text = absl::StrCat("reading queue '", queue_name_,
                                              "' failed: ", drained.status().message());
        StoreNote(RecordKind::kError, std::string(kBufferSender), "", text);
        std::lock_guard<std::mutex> guard(mutex_);
        read_failure_ = absl::DataLossError(absl::StrCat("LineProcBuffer: ", text));
        changed_.notify_all();
      }
      absl::SleepFor(interval);
    }
    absl::Time now = ::syncstream::Now();
    if (now >= next_check) {
      CheckLiveness();
      next_check = now + interval;
    }
  }
}

}  // namespace syncstream
