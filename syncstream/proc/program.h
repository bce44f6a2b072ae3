// RunningProgram: a program that knows nothing of syncstream, its stdout and
// stderr captured line by line into a LineWriter.
//
// The program is started with posix_spawn (core/child_process.h), stdin from
// /dev/null unless asked otherwise, and its stdout and stderr each on a pipe.
// A pump thread of this process reads both pipes and writes them into two
// explicit writers of `sink` (LineWriter::NewWriter), so
//  - every line the program prints becomes one record whose sender is
//    "NAME[PID]" and whose type is "stdout" or "stderr";
//  - the program's partial line on one stream is never glued to its other
//    stream or to another program's text, and a last line without '\n' is
//    still delivered when the pipe closes;
//  - when both pipes are closed and the program has ended, one final record
//    from the same sender with type "exit": end-of-stream with the text
//    "exited with status 0" on success, otherwise an error record
//    "NAME[PID] exited with status 3" / "NAME[PID] killed by signal 9
//    (Killed)".
//
//   SYNCSTREAM_ASSIGN_OR_RETURN(auto program, RunningProgram::Start(
//       sink, {.argv = {"/bin/sh", "-c", "echo hi; exit 3"}}));
//   SYNCSTREAM_ASSIGN_OR_RETURN(ExitStatus status,
//                               program->Wait(absl::Seconds(10)));
//
// LineProcBuffer::Spawn (line_proc_buffer.h) starts a program this way with a
// mirror as its sink; `syncstream run` with a printing sink.
//
// `sink` must outlive the RunningProgram. Destroying a RunningProgram whose
// program still runs kills it (SIGKILL) and still delivers its final record.
#ifndef SYNCSTREAM_PROC_PROGRAM_H_
#define SYNCSTREAM_PROC_PROGRAM_H_

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/line_writer.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream {

struct ProgramOptions {
  // The program and its arguments; argv[0] is searched in PATH when it has no
  // '/'. Must not be empty.
  std::vector<std::string> argv;
  // Environment entries set on top of this process's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // The name in sender names ("NAME[PID]"); default: the last path component
  // of argv[0].
  std::string name;
  // The program's stdin (default /dev/null, so it never competes for ours).
  FdRedirect stdin_from = FdRedirect::DevNull();
  // Start the program in a process group of its own
  // (SpawnOptions::new_process_group); Kill() and the destructor then signal
  // the whole group, the processes the program started included.
  bool new_process_group = false;
  // Called on the pump thread after the final record was delivered.
  std::function<void(const ExitStatus&)> on_finished;
};

class RunningProgram {
 public:
  // Starts the program. Errors name the program (not found, not executable,
  // out of descriptors); nothing is written to `sink` then.
  static absl::StatusOr<std::unique_ptr<RunningProgram>> Start(
      LineWriter& sink, ProgramOptions options);

  // Kills (SIGKILL) a program still running, then waits for its final record.
  ~RunningProgram();
  RunningProgram(const RunningProgram&) = delete;
  RunningProgram& operator=(const RunningProgram&) = delete;

  pid_t pid() const { return pid_; }
  // "NAME[PID]", the sender of every record of this program.
  const std::string& sender() const { return sender_; }

  // Waits until the program has ended, its pipes are drained and its final
  // record was delivered, at most `timeout`. DeadlineExceeded naming the
  // program if it is still running.
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout);
  // Whether the final record was delivered.
  bool finished() const;

  // Sends `signal` to the program, or to its process group when it was
  // started with new_process_group (no-op once it has been reaped).
  absl::Status Kill(int signal);

 private:
  absl::Status KillLocked(int signal);  // requires mutex_
  RunningProgram(LineWriter& sink, ProgramOptions options, ChildProcess child,
                 UniqueFd out, UniqueFd err);
  void Pump();

  LineWriter& sink_;
  const ProgramOptions options_;
  const pid_t pid_;
  const std::string sender_;
  UniqueFd out_;
  UniqueFd err_;

  mutable std::mutex mutex_;
  std::condition_variable finished_cv_;
  ChildProcess child_;  // guarded by mutex_
  bool stop_ = false;   // the owner is being destroyed: kill and finish
  std::optional<ExitStatus> status_;  // set with the final record
  std::thread pump_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_PROC_PROGRAM_H_
