// `syncstream run`: runs commands in parallel and prints their output line by
// line as it arrives, never mixing two commands' partial lines (GNU
// parallel's --line-buffer), optionally tagged and grouped in input order.
//
//   syncstream run -j 4 --tag -- 'make -C a' 'make -C b'
//   syncstream run -j 8 --commands jobs.txt
//   find . -name '*.log' | sed 's/^/gzip /' | syncstream run -j 2
//
// Each command is a shell command line (/bin/sh -c). Commands come from the
// arguments after `--` (one per argument), else from --commands FILE (one per
// line, `-` for stdin), else from stdin. A command's stdout lines go to
// stdout and its stderr lines to stderr; a line longer than the line writer's
// maximum is still printed whole, with one tag.
//
// Exit status (kRunExitStatuses): 0 when every command exited with status 0,
// 1 otherwise (with a summary of the failures on stderr), 2 on a usage
// error, 128+N when signal N (SIGINT, SIGTERM, SIGHUP) stopped the run.
// GNU parallel's "number of failed commands" was considered and not taken:
// 2 and 128+N would then also mean "2 (or 128+N) commands failed", and the
// summary on stderr already counts the failures.
//
// Signals: each command runs in a process group of its own, so a terminal's
// Ctrl-C reaches only `run`. On SIGINT, SIGTERM or SIGHUP, `run` starts no
// further command, sends that signal to every running command's group,
// waits up to --grace seconds for them to end, then SIGKILLs the groups
// still running (at once on a second signal), prints what it has and exits
// with 128+N: no command outlives it.
#include <gflags/gflags.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/line_writer.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/proc/program.h"
#include "tools/command.h"
#include "tools/record_output.h"

DEFINE_int32(j, 0,
             "Commands to run at once (0: the number of CPUs).");
DEFINE_bool(tag, false,
            "Prefix each line with its command and a tab (the command's "
            "line breaks and control characters escaped, so that a tag is "
            "always one line).");
DEFINE_bool(keep_order, false,
            "Print each command's output together, in input order (the "
            "first unfinished command's output still streams live).");
DEFINE_string(commands, "",
              "Read the commands from this file, one per line ('-': stdin).");
DEFINE_double(grace, 5,
              "After SIGINT, SIGTERM or SIGHUP: seconds the commands get to "
              "end after the signal was forwarded to them, before they are "
              "killed (SIGKILL).");

namespace syncstream::tools {
namespace {

// Writes whole lines to stdout/stderr, one job at a time; with keep_order,
// holds the lines of every job but the first unfinished one.
class Printer {
 public:
  Printer(size_t jobs, bool keep_order)
      : keep_order_(keep_order), held_(jobs), done_(jobs, false) {}

  void Line(size_t job, int fd, const std::string& text) {
    std::lock_guard<std::mutex> guard(mutex_);
    if (!keep_order_ || job == next_) {
      WriteAll(fd, text);
    } else {
      held_[job].emplace_back(fd, text);
    }
  }

  void Finished(size_t job) {
    std::lock_guard<std::mutex> guard(mutex_);
    done_[job] = true;
    if (!keep_order_) return;
    while (next_ < done_.size() && done_[next_]) {
      FlushHeld(next_);
      ++next_;
    }
    if (next_ < done_.size()) FlushHeld(next_);  // it streams live from now
  }

 private:
  void FlushHeld(size_t job) {
    for (const auto& [fd, text] : held_[job]) WriteAll(fd, text);
    held_[job].clear();
    held_[job].shrink_to_fit();
  }

  static void WriteAll(int fd, const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // stdout closed: nothing sensible left to do
      done += static_cast<size_t>(n);
    }
  }

  const bool keep_order_;
  std::mutex mutex_;
  size_t next_ = 0;  // keep_order: the job whose lines print live
  std::vector<std::vector<std::pair<int, std::string>>> held_;
  std::vector<bool> done_;
};

// The sink of one command: its lines go to the printer, tagged if asked. The
// pieces of a line longer than the writer's maximum are put together first,
// so that the line is printed whole, tagged once, and no other command's
// line comes between its pieces.
class JobOutput : public LineWriter {
 public:
  JobOutput(Printer& printer, size_t job, std::string prefix)
      : LineWriter(LineWriterOptions{}),
        printer_(printer),
        job_(job),
        prefix_(std::move(prefix)) {}
  ~JobOutput() override { CloseAllWriters().IgnoreError(); }

 protected:
  absl::Status Publish(const Record& record) override {
    if (!record.is_line()) return absl::OkStatus();
    const int fd = record.type == "stderr" ? 2 : 1;
    std::string& held = held_[fd - 1];  // the pump thread is the only caller
    if (record.continued) {
      held += record.text;
      return absl::OkStatus();
    }
    std::string text = absl::StrCat(prefix_, held, record.text, "\n");
    held.clear();
    held.shrink_to_fit();
    printer_.Line(job_, fd, text);
    return absl::OkStatus();
  }

 private:
  Printer& printer_;
  const size_t job_;
  const std::string prefix_;
  std::string held_[2];  // stdout's and stderr's line so far
};

constexpr char kRunExitStatuses[] =
    "  0    every command exited with status 0\n"
    "  1    a command failed (exited non-zero, was killed, or could not "
    "start);\n"
    "       the failures are summarized on stderr\n"
    "  2    usage error (a bad flag, value or argument; an unreadable "
    "--commands file)\n"
    "  128+N  signal N (SIGINT 130, SIGTERM 143, SIGHUP 129) stopped the "
    "run:\n"
    "       it was forwarded to the commands, which were killed after "
    "--grace\n";

// Delivers SIGINT, SIGTERM and SIGHUP to `on_signal` on a thread of its own
// (they are blocked in every thread, and the commands start with them
// unblocked). Stop() ends the thread.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal)
      : on_signal_(std::move(on_signal)) {
    sigemptyset(&set_);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set_, s);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    signals_.Reset(::signalfd(-1, &set_, SFD_CLOEXEC));
    stop_.Reset(::eventfd(0, EFD_CLOEXEC));
    thread_ = std::thread([this] { Watch(); });
  }
  ~SignalWatcher() {
    uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof(one));
    thread_.join();
  }

 private:
  void Watch() {
    pollfd fds[2] = {{signals_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      signalfd_siginfo info;
      if (::read(signals_.get(), &info, sizeof(info)) ==
          static_cast<ssize_t>(sizeof(info))) {
        on_signal_(static_cast<int>(info.ssi_signo));
      }
    }
  }

  const std::function<void(int)> on_signal_;
  sigset_t set_;
  UniqueFd signals_;
  UniqueFd stop_;
  std::thread thread_;
};

bool ReadCommands(std::istream& in, std::vector<std::string>* commands) {
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view command = absl::StripAsciiWhitespace(line);
    if (!command.empty()) commands->emplace_back(command);
  }
  return !in.bad();
}

int RunCommands(const std::vector<std::string>& args) {
  std::vector<std::string> commands = args;
  if (commands.empty()) {
    bool ok;
    if (FLAGS_commands.empty() || FLAGS_commands == "-") {
      ok = ReadCommands(std::cin, &commands);
    } else {
      std::ifstream file(FLAGS_commands);
      if (!file) {
        std::cerr << "syncstream run: cannot open --commands file '"
                  << FLAGS_commands << "'\n";
        return 2;
      }
      ok = ReadCommands(file, &commands);
    }
    if (!ok) {
      std::cerr << "syncstream run: error reading the commands\n";
      return 2;
    }
  } else if (!FLAGS_commands.empty()) {
    std::cerr << "syncstream run: give commands as arguments or with "
                 "--commands, not both\n";
    return 2;
  }
  if (FLAGS_j < 0) {
    std::cerr << "syncstream run: -j must be at least 0\n";
    return 2;
  }
  if (!(FLAGS_grace >= 0)) {
    std::cerr << "syncstream run: --grace must be at least 0\n";
    return 2;
  }
  size_t jobs = FLAGS_j > 0 ? static_cast<size_t>(FLAGS_j)
                            : std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));

  std::mutex mutex;
  std::condition_variable finished;
  size_t running = 0;
  int signal = 0;         // the first stop signal received
  bool kill_now = false;  // a second one: no more grace
  // First, so that every thread started below has the signals blocked.
  SignalWatcher watcher([&](int received) {
    std::lock_guard<std::mutex> guard(mutex);
    if (signal == 0) {
      signal = received;
    } else {
      kill_now = true;
    }
    finished.notify_all();
  });
  Printer printer(commands.size(), FLAGS_keep_order);
  std::vector<std::unique_ptr<JobOutput>> outputs;
  for (size_t i = 0; i < commands.size(); ++i) {
    outputs.push_back(std::make_unique<JobOutput>(
        printer, i, FLAGS_tag ? absl::StrCat(TerminalSafe(commands[i]), "\t")
                              : ""));
  }
  std::vector<std::unique_ptr<RunningProgram>> programs(commands.size());
  std::vector<std::optional<std::string>> failures(commands.size());

  // Sends `sig` to every command still running; requires `mutex` (which
  // Start below holds too, so no command starts unseen).
  auto signal_running = [&](int sig) {
    for (auto& program : programs) {
      if (program != nullptr) program->Kill(sig).IgnoreError();
    }
  };
  for (size_t i = 0; i < commands.size(); ++i) {
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [&] { return running < jobs || signal != 0; });
    if (signal != 0) break;
    ++running;
    ProgramOptions options;
    options.argv = {"/bin/sh", "-c", commands[i]};
    options.name = "sh";
    options.new_process_group = true;
    options.on_finished = [&, i](const ExitStatus& status) {
      printer.Finished(i);
      std::lock_guard<std::mutex> guard(mutex);
      if (!status.success()) failures[i] = status.ToString();
      --running;
      finished.notify_all();
    };
    absl::StatusOr<std::unique_ptr<RunningProgram>> program =
        RunningProgram::Start(*outputs[i], std::move(options));
    if (!program.ok()) {
      failures[i] = program.status().ToString();
      --running;
      lock.unlock();
      printer.Finished(i);
      continue;
    }
    programs[i] = *std::move(program);
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [&] { return running == 0 || signal != 0; });
    if (running > 0) {
      signal_running(signal);
      const absl::Time deadline =
          ::syncstream::Now() + absl::Seconds(FLAGS_grace);
      while (running > 0 && !kill_now && ::syncstream::Now() < deadline) {
        finished.wait_for(lock, absl::ToChronoNanoseconds(
                                    TimeLeft(deadline)));
      }
      if (running > 0) signal_running(SIGKILL);
      finished.wait(lock, [&] { return running == 0; });
    }
  }
  programs.clear();  // joins the pump threads
  outputs.clear();
  if (signal != 0) {
    std::cerr << "syncstream run: stopped by signal " << signal << " ("
              << strsignal(signal) << ")\n";
    return 128 + signal;
  }

  size_t failed = 0;
  for (const auto& failure : failures) failed += failure.has_value();
  if (failed == 0) return 0;
  std::string summary = absl::StrCat("syncstream run: ", failed, " of ",
                                     commands.size(), " commands failed:\n");
  for (size_t i = 0; i < commands.size(); ++i) {
    if (failures[i]) {
      absl::StrAppend(&summary, "  ", commands[i], ": ", *failures[i], "\n");
    }
  }
  std::cerr << summary;
  return 1;
}

}  // namespace

SYNCSTREAM_REGISTER_COMMAND_WITH_EXIT_STATUSES(
    run, "run",
    "[-j N] [--tag] [--keep_order] [--commands FILE] [--grace SECONDS] "
    "-- CMD...",
    "Run shell commands in parallel; print their output line by line, never "
    "mixing two commands' lines. SIGINT, SIGTERM and SIGHUP are forwarded to "
    "the commands, which are killed if they still run after --grace seconds.",
    RunCommands, kRunExitStatuses);

}  // namespace syncstream::tools
