// A sharing kind under stress: the interface every kind implements and
// registers, so that the harness core (harness.h) runs it unchanged.
//
// One run of the harness is (kind, spawn mode):
//
//   parent                                  worker w (thread / child process)
//   ------                                  ---------------------------------
//   Kind::StartSession(settings) -> Session
//   for each worker w:
//     Session::PrepareWorker(w, &launch)
//     start the worker:
//       threads: a thread           ->      Session::OpenChannel(w)
//       fork:    ChildProcess::Fork ->      apply launch's fd redirects,
//                                           Session::OpenChannel(w)
//       exec:    ChildProcess::Spawn of     Kind::OpenExecChannel(w, token)
//                /proc/self/exe --worker    (launch's fds are already set)
//                ... launch.token
//     Session::WorkerStarted(w)             write lines 0, 1, ... through
//   optionally SIGKILL some workers         WorkerChannel::WriteLine, record
//   wait for every worker                   Committed() in the commit ledger
//   Session::Drain(timeout)                 WorkerChannel::Close()
//   check what reached the LineSink
//   destroy the Session (tear down)
//
// The collector side (a buffer, a reader, a server) lives in the Session and
// hands every record it receives to settings.sink, from any thread, in the
// order it received them.
//
// Kills: "lost" is defined per worker by the commit ledger. After each
// WriteLine the worker records WorkerChannel::Committed(): the number of its
// lines the kind guarantees to deliver even if the worker is SIGKILLed at
// that instant. Those lines must all arrive; since delivery is first-in
// first-out per worker, so must every line before a line that arrived. A
// killed worker may leave one truncated final line (a prefix of the line it
// was writing). Each kind documents its commit point in its description.
//
// Registering a kind (in its own .cc, linked into //testing/stress:kinds with
// alwayslink = 1):
//
//   class QueueKind : public Kind { ... };
//   SYNCSTREAM_REGISTER_STRESS_KIND(QueueKind);
#ifndef SYNCSTREAM_TESTING_STRESS_KIND_H_
#define SYNCSTREAM_TESTING_STRESS_KIND_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/record.h"

namespace syncstream::stress {

enum class SpawnMode {
  kThreads,  // workers are threads of the harness process
  kFork,     // workers are forked children running the worker function
  kExec,     // workers are the harness binary re-executed with --worker
};

// "threads", "fork", "exec".
absl::string_view SpawnModeName(SpawnMode mode);
absl::StatusOr<SpawnMode> ParseSpawnMode(absl::string_view name);

// Where a collector hands what it received. Thread-safe.
class LineSink {
 public:
  virtual ~LineSink() = default;
  // Records as received (lines, end-of-stream, errors), in receiving order.
  virtual void Receive(const std::vector<Record>& records) = 0;
  // The collector failed or could not see everything (a read error, records
  // evicted before they were handed over). The run fails with this message.
  virtual void CollectorError(const absl::Status& status) = 0;
};

struct SessionSettings {
  SpawnMode mode = SpawnMode::kThreads;
  int workers = 1;
  // Lines each worker writes at most (0: no limit, the run is time-capped).
  uint64_t lines_per_worker = 0;
  size_t line_length = 100;  // bytes per line, without '\n'
  // How many records a collector that keeps the last N should keep: enough
  // for every line of the run when the run is bounded.
  size_t buffer_lines = 1 << 16;
  // A fresh private directory for files, sockets and mounts of this run;
  // removed (recursively) after the session is destroyed. Short enough that
  // "scratch_dir/" plus a 40-byte name fits in a Unix socket path.
  std::string scratch_dir;
  // Where the collector delivers. Outlives the session.
  LineSink* sink = nullptr;
};

// How a worker process is started (fork and exec modes), filled by
// Session::PrepareWorker. The standard descriptors default to: stdin
// /dev/null, stdout and stderr inherited from the harness.
struct WorkerLaunch {
  // Exec mode: handed to Kind::OpenExecChannel in the worker (one argv
  // entry; any bytes but NUL).
  std::string token;
  FdRedirect stdin_from = FdRedirect::DevNull();
  FdRedirect stdout_to;
  FdRedirect stderr_to;
  // Exec mode: further descriptors the worker needs, kept at their numbers.
  std::vector<int> inherit_fds;
};

// The writing side one worker writes through. Used by one thread.
class WorkerChannel {
 public:
  virtual ~WorkerChannel() = default;
  // Writes one line; `line` ends with '\n'.
  virtual absl::Status WriteLine(absl::string_view line) = 0;
  // How many of the `written` lines (those whose WriteLine returned OK) the
  // kind guarantees to deliver if this worker is SIGKILLed now. Default: all
  // of them (the line is in the channel once WriteLine returns).
  virtual uint64_t Committed(uint64_t written) const { return written; }
  // Flushes and ends this worker's stream; nothing is written after.
  virtual absl::Status Close() = 0;
};

// Parent side of one run of a kind. Destroying it tears everything down.
class Session {
 public:
  virtual ~Session() = default;
  // Before worker `worker` starts (fork and exec modes): prepare its channel
  // and say how to launch it.
  virtual absl::Status PrepareWorker(int worker, WorkerLaunch* launch) {
    return absl::OkStatus();
  }
  // Right after worker `worker` was started (fork and exec modes): e.g. close
  // the parent's copies of descriptors only the worker needs.
  virtual absl::Status WorkerStarted(int worker) { return absl::OkStatus(); }
  // Runs inside the worker: a thread of the harness (threads mode) or the
  // forked child, after the launch's redirects (fork mode). The session
  // object is the parent's (threads) or the child's copy of it (fork).
  virtual absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(
      int worker) = 0;
  // After every worker has ended (exited or killed): hand everything still
  // in flight to the sink, waiting at most `timeout`.
  virtual absl::Status Drain(absl::Duration timeout) = 0;
};

class Kind {
 public:
  virtual ~Kind() = default;
  // Unique, [a-z0-9_]+: "thread", "fdcapture", "queue", ...
  virtual absl::string_view name() const = 0;
  // One paragraph: what is stressed, and the commit point a kill respects.
  virtual absl::string_view description() const = 0;
  virtual bool Supports(SpawnMode mode) const = 0;
  // Whether workers may be SIGKILLed in fork/exec mode (see the kill
  // contract above). Threads are never killed.
  virtual bool SupportsKill() const { return false; }

  virtual absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) = 0;

  // Exec mode, inside the worker process: the channel for `worker`, from the
  // token its session's PrepareWorker produced.
  virtual absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token);
};

// Registers a kind (at static-initialization time; see the macro). Returns
// true; a second kind of the same name is a fatal error at startup.
bool RegisterKind(std::unique_ptr<Kind> kind);
// Every registered kind, ordered by name.
std::vector<Kind*> RegisteredKinds();
// The kind of that name, or nullptr.
Kind* FindKind(absl::string_view name);

}  // namespace syncstream::stress

#define SYNCSTREAM_REGISTER_STRESS_KIND(KindClass)            \
  static const bool syncstream_stress_kind_##KindClass =      \
      ::syncstream::stress::RegisterKind(std::make_unique<KindClass>())

#endif  // SYNCSTREAM_TESTING_STRESS_KIND_H_
