#include "testing/stress/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"
#include "testing/stress/commit_ledger.h"
#include "testing/stress/worker.h"

namespace syncstream::stress {
namespace {

constexpr uint64_t kFaultAtLine = 10;

// Feeds received records to the checker (under a lock: collectors may call
// from several threads), applying an injected fault if asked.
class CheckingSink : public LineSink {
 public:
  CheckingSink(LineSpec spec, int workers, Fault fault)
      : checker_(std::move(spec), workers), fault_(fault) {}

  void Receive(const std::vector<Record>& records) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Record& record : records) {
      if (record.is_line()) {
        AddLocked(record.text);
      } else if (record.is_error() || record.is_warning()) {
        AddErrorLocked(absl::StrCat("a worker sent ", FormatRecord(record)));
      }
      // End-of-stream records carry no line.
    }
    received_.store(checker_.received(), std::memory_order_relaxed);
  }

  void CollectorError(const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mutex_);
    AddErrorLocked(absl::StrCat("collector: ", status.ToString()));
  }

  uint64_t received() const { return received_.load(std::memory_order_relaxed); }

  CheckResult Finish(const std::vector<WorkerExpectation>& expectations,
                     std::vector<std::string>* errors) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (held_.has_value()) checker_.Add(*held_);
    errors->insert(errors->end(), errors_.begin(), errors_.end());
    return checker_.Finish(expectations);
  }

 private:
  void AddErrorLocked(std::string error) {
    if (errors_.size() < 10) errors_.push_back(std::move(error));
  }

  // The writer of a self-checking line "ss1 KIND wN sSEQ ...": its first
  // three fields.
  static absl::string_view WriterOf(absl::string_view line) {
    size_t from = 0;
    size_t space = 0;
    for (int field = 0; field < 3; ++field) {
      space = line.find(' ', from);
      if (space == absl::string_view::npos) return line;
      from = space + 1;
    }
    return line.substr(0, space);
  }

  void AddLocked(const std::string& line) {
    const uint64_t n = lines_++;
    if (fault_ == Fault::kNone || n < kFaultAtLine) {
      checker_.Add(line);
      return;
    }
    if (n == kFaultAtLine) {
      switch (fault_) {
        case Fault::kLose:
          return;
        case Fault::kDuplicate:
          checker_.Add(line);
          checker_.Add(line);
          return;
        case Fault::kGarble: {
          std::string damaged = line;
          damaged[damaged.size() / 2] ^= 0x01;
          checker_.Add(damaged);
          return;
        }
        case Fault::kGlue:
        case Fault::kReorder:
          held_ = line;
          return;
        case Fault::kNone:
          break;
      }
    }
    // A reorder swaps the held line with the next line of the same writer:
    // lines of different writers have no order to break.
    const bool release =
        held_.has_value() &&
        (fault_ == Fault::kGlue ? n == kFaultAtLine + 1
                                : WriterOf(line) == WriterOf(*held_));
    if (release) {
      if (fault_ == Fault::kGlue) {
        checker_.Add(*held_ + line);
      } else {
        checker_.Add(line);
        checker_.Add(*held_);
      }
      held_.reset();
      return;
    }
    checker_.Add(line);
  }

  std::mutex mutex_;
  LineChecker checker_;
  const Fault fault_;
  uint64_t lines_ = 0;
  std::optional<std::string> held_;
  std::vector<std::string> errors_;
  std::atomic<uint64_t> received_{0};
};

// Applies a launch's redirect in a forked child; false on failure.
bool ApplyRedirect(const FdRedirect& redirect, int target) {
  if (redirect.is_inherit()) return true;
  if (redirect.is_dev_null()) {
    int fd = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
    if (fd < 0) return false;
    bool ok = dup2(fd, target) == target;
    close(fd);
    return ok;
  }
  return dup2(redirect.fd(), target) == target;
}

// A fresh scratch directory, removed on destruction.
class ScratchDir {
 public:
  static absl::StatusOr<ScratchDir> Create(const std::string& root) {
    std::string pattern = root + "/syncstream-stress-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat(
          "scratch directory under '", root, "': ", strerror(errno)));
    }
    return ScratchDir(std::move(pattern));
  }
  ScratchDir(ScratchDir&& other) noexcept
      : path_(std::exchange(other.path_, "")) {}
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

std::string WorkerFailure(int worker, absl::string_view what) {
  return absl::StrCat("worker ", worker, ": ", what);
}

}  // namespace

absl::StatusOr<Fault> ParseFault(absl::string_view name) {
  if (name.empty() || name == "none") return Fault::kNone;
  if (name == "lose") return Fault::kLose;
  if (name == "duplicate") return Fault::kDuplicate;
  if (name == "garble") return Fault::kGarble;
  if (name == "glue") return Fault::kGlue;
  if (name == "reorder") return Fault::kReorder;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown fault '", name,
      "' (none, lose, duplicate, garble, glue or reorder)"));
}

RunReport RunOne(const RunOptions& options,
                 const std::function<void(const Progress&)>& progress) {
  RunReport report;
  report.kind = std::string(options.kind->name());
  report.mode = options.mode;
  report.workers = options.workers;
  report.seed = options.seed;
  Kind& kind = *options.kind;
  const int n = options.workers;
  const bool processes = options.mode != SpawnMode::kThreads;

  if (!kind.Supports(options.mode)) {
    report.errors.push_back(absl::StrCat("kind '", report.kind,
                                         "' does not support mode ",
                                         SpawnModeName(options.mode)));
    return report;
  }
  const LineSpec spec{report.kind, options.seed, options.line_length};
  CheckingSink sink(spec, n, options.fault);

  absl::StatusOr<ScratchDir> scratch =
      ScratchDir::Create(options.scratch_root);
  absl::StatusOr<CommitLedger> ledger = CommitLedger::Create(n);
  if (!scratch.ok() || !ledger.ok()) {
    report.errors.push_back(
        (!scratch.ok() ? scratch.status() : ledger.status()).ToString());
    return report;
  }

  SessionSettings settings;
  settings.mode = options.mode;
  settings.workers = n;
  settings.lines_per_worker = options.lines_per_worker;
  settings.line_length = options.line_length;
  // Room for every line of a bounded run, plus what workers chosen for a
  // kill write past their quota before the kill lands.
  settings.buffer_lines =
      options.lines_per_worker == 0
          ? options.max_buffer_lines
          : static_cast<size_t>(std::min<uint64_t>(
                options.lines_per_worker * n + (1 << 16),
                std::max<size_t>(options.max_buffer_lines, 1024)));
  settings.scratch_dir = scratch->path();
  settings.sink = &sink;
  absl::StatusOr<std::unique_ptr<Session>> session = kind.StartSession(settings);
  if (!session.ok()) {
    report.errors.push_back(absl::StrCat("start session: ",
                                         session.status().ToString()));
    return report;
  }

  // Which workers get killed, and after how many lines.
  std::mt19937_64 rng(options.seed ^
                      (std::hash<std::string>()(report.kind) +
                       static_cast<uint64_t>(options.mode)));
  std::vector<uint64_t> kill_after(n, 0);  // 0: never
  if (processes && kind.SupportsKill() && options.kill_rate > 0) {
    std::bernoulli_distribution pick(std::min(options.kill_rate, 1.0));
    const uint64_t span =
        options.lines_per_worker > 1 ? options.lines_per_worker : 10000;
    std::uniform_int_distribution<uint64_t> when(1, span - 1);
    for (int w = 0; w < n; ++w) {
      if (pick(rng)) kill_after[w] = when(rng);
    }
  }

  const absl::Time start = ::syncstream::Now();
  const absl::Time hard_deadline = start + options.timeout;
  WorkerParams base;
  base.spec = spec;
  base.workers = n;
  base.lines = options.lines_per_worker;
  base.stop_at = options.duration > absl::ZeroDuration()
                     ? start + options.duration
                     : absl::InfiniteFuture();

  std::vector<ChildProcess> children(n);
  std::vector<std::thread> threads;
  std::vector<absl::Status> thread_status(n);
  std::vector<std::atomic<bool>> thread_done(n);
  std::vector<bool> ended(n, false), kill_sent(n, false), killed(n, false);
  int started = 0;
  for (int w = 0; w < n; ++w) {
    WorkerParams params = base;
    params.worker = w;
    if (kill_after[w] != 0) {
      // A worker chosen for a kill writes on until the kill lands (or half
      // the run's timeout passes), so that the kill always hits it mid-run
      // however late this thread notices that it passed kill_after[w].
      params.lines = 0;
      params.stop_at = std::min(base.stop_at, start + options.timeout / 2);
    }
    if (!processes) {
      threads.emplace_back([&, params, w] {
        absl::StatusOr<std::unique_ptr<WorkerChannel>> channel =
            (*session)->OpenChannel(w);
        thread_status[w] = channel.ok() ? RunWorker(params, **channel, *ledger)
                                        : channel.status();
        thread_done[w].store(true, std::memory_order_release);
      });
      ++started;
      continue;
    }
    WorkerLaunch launch;
    absl::Status prepared = (*session)->PrepareWorker(w, &launch);
    if (!prepared.ok()) {
      report.errors.push_back(WorkerFailure(w, prepared.ToString()));
      break;
    }
    absl::StatusOr<ChildProcess> child;
    if (options.mode == SpawnMode::kFork) {
      Session* in_child = session->get();
      CommitLedger* shared = &*ledger;
      child = ChildProcess::Fork([in_child, shared, params, launch] {
        if (!ApplyRedirect(launch.stdin_from, 0) ||
            !ApplyRedirect(launch.stdout_to, 1) ||
            !ApplyRedirect(launch.stderr_to, 2)) {
          fprintf(stderr, "stress worker %d: redirect failed\n",
                  params.worker);
          return 1;
        }
        absl::StatusOr<std::unique_ptr<WorkerChannel>> channel =
            in_child->OpenChannel(params.worker);
        absl::Status status = channel.ok()
                                  ? RunWorker(params, **channel, *shared)
                                  : channel.status();
        if (!status.ok()) {
          fprintf(stderr, "stress worker %d: %s\n", params.worker,
                  status.ToString().c_str());
          return 1;
        }
        return 0;
      });
    } else {
      SpawnOptions spawn;
      spawn.argv =
          WorkerArgv(options.self_exe, params, ledger->fd(), launch.token);
      spawn.stdin_from = launch.stdin_from;
      spawn.stdout_to = launch.stdout_to;
      spawn.stderr_to = launch.stderr_to;
      spawn.inherit_fds = launch.inherit_fds;
      spawn.inherit_fds.push_back(ledger->fd());
      child = ChildProcess::Spawn(spawn);
    }
    if (!child.ok()) {
      report.errors.push_back(WorkerFailure(w, child.status().ToString()));
      break;
    }
    children[w] = *std::move(child);
    ++started;
    absl::Status noted = (*session)->WorkerStarted(w);
    if (!noted.ok()) report.errors.push_back(WorkerFailure(w, noted.ToString()));
  }
  for (int w = started; w < n; ++w) ended[w] = true;  // never started

  // Watch the workers: reap, kill, report progress, enforce the deadline.
  absl::Time next_progress = start;
  int alive = started;
  bool timed_out = false;
  while (alive > 0) {
    alive = 0;
    for (int w = 0; w < n; ++w) {
      if (ended[w]) continue;
      if (!processes) {
        if (thread_done[w].load(std::memory_order_acquire)) {
          ended[w] = true;
        } else {
          ++alive;
        }
        continue;
      }
      if (kill_after[w] != 0 && !kill_sent[w] &&
          ledger->written(w) >= kill_after[w]) {
        kill_sent[w] = children[w].Kill(SIGKILL).ok();
      }
      absl::StatusOr<std::optional<ExitStatus>> status = children[w].TryWait();
      if (!status.ok()) {
        report.errors.push_back(WorkerFailure(w, status.status().ToString()));
        ended[w] = true;
        continue;
      }
      if (!status->has_value()) {
        ++alive;
        continue;
      }
      ended[w] = true;
      const ExitStatus& exit = **status;
      if (kill_sent[w] && exit.signaled && exit.signal == SIGKILL) {
        killed[w] = true;
      } else if (!exit.success()) {
        report.errors.push_back(WorkerFailure(w, exit.ToString()));
      }
    }
    const absl::Time now = ::syncstream::Now();
    if (progress && now >= next_progress) {
      progress(Progress{kind.name(), options.mode, ledger->total_written(),
                        sink.received(), alive, now - start});
      next_progress = now + absl::Milliseconds(200);
    }
    if (alive == 0) break;
    if (now >= hard_deadline) {
      timed_out = true;
      report.errors.push_back(
          absl::StrCat("timed out after ", absl::FormatDuration(options.timeout),
                       " with ", alive, " workers still running"));
      if (!processes) {
        // Threads cannot be stopped from outside; give up on the process.
        fprintf(stderr, "stress: %s/%s: %s\n", report.kind.c_str(),
                std::string(SpawnModeName(options.mode)).c_str(),
                report.errors.back().c_str());
        fflush(nullptr);
        _exit(1);
      }
      for (int w = 0; w < n; ++w) {
        if (!ended[w]) {
          (void)children[w].Kill(SIGKILL);
          (void)children[w].Wait(absl::Seconds(10));
          ended[w] = true;
        }
      }
      break;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < n; ++w) {
    if (!processes && !thread_status[w].ok()) {
      report.errors.push_back(WorkerFailure(w, thread_status[w].ToString()));
    }
    if (killed[w]) ++report.killed;
  }

  const absl::Duration drain_timeout =
      std::max(TimeLeft(hard_deadline), absl::Seconds(10));
  absl::Status drained = (*session)->Drain(drain_timeout);
  if (!drained.ok()) {
    report.errors.push_back(absl::StrCat("drain: ", drained.ToString()));
  }
  session->reset();  // tear down before the verdict
  report.elapsed = ::syncstream::Now() - start;

  std::vector<WorkerExpectation> expectations(n);
  for (int w = 0; w < n; ++w) {
    expectations[w].committed = ledger->committed(w);
    // A worker that did not end normally is treated like a killed one: what
    // it committed must still be there.
    expectations[w].killed = killed[w] || timed_out;
  }
  report.check = sink.Finish(expectations, &report.errors);
  const double seconds = absl::ToDoubleSeconds(report.elapsed);
  report.lines_per_second =
      seconds > 0 ? static_cast<double>(report.check.counts.valid) / seconds
                  : 0;
  return report;
}

}  // namespace syncstream::stress
