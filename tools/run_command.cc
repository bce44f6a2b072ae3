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
// stdout and its stderr lines to stderr. The exit status is 0 when every
// command exited with status 0, 1 otherwise (with a summary of the failures
// on stderr), 2 on a usage error.
#include <gflags/gflags.h>
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
#include "syncstream/core/line_writer.h"
#include "syncstream/proc/program.h"
#include "tools/command.h"

DEFINE_int32(j, 0,
             "Commands to run at once (0: the number of CPUs).");
DEFINE_bool(tag, false,
            "Prefix each line with its command and a tab.");
DEFINE_bool(keep_order, false,
            "Print each command's output together, in input order (the "
            "first unfinished command's output still streams live).");
DEFINE_string(commands, "",
              "Read the commands from this file, one per line ('-': stdin).");

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

// The sink of one command: its lines go to the printer, tagged if asked.
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
    std::string text = absl::StrCat(prefix_, record.text,
                                    record.continued ? "" : "\n");
    printer_.Line(job_, record.type == "stderr" ? 2 : 1, text);
    return absl::OkStatus();
  }

 private:
  Printer& printer_;
  const size_t job_;
  const std::string prefix_;
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
  size_t jobs = FLAGS_j > 0 ? static_cast<size_t>(FLAGS_j)
                            : std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));

  Printer printer(commands.size(), FLAGS_keep_order);
  std::vector<std::unique_ptr<JobOutput>> outputs;
  for (size_t i = 0; i < commands.size(); ++i) {
    outputs.push_back(std::make_unique<JobOutput>(
        printer, i, FLAGS_tag ? absl::StrCat(commands[i], "\t") : ""));
  }
  std::vector<std::unique_ptr<RunningProgram>> programs(commands.size());
  std::vector<std::optional<std::string>> failures(commands.size());

  std::mutex mutex;
  std::condition_variable finished;
  size_t running = 0;
  for (size_t i = 0; i < commands.size(); ++i) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      finished.wait(lock, [&] { return running < jobs; });
      ++running;
    }
    ProgramOptions options;
    options.argv = {"/bin/sh", "-c", commands[i]};
    options.name = "sh";
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
      printer.Finished(i);
      std::lock_guard<std::mutex> guard(mutex);
      failures[i] = program.status().ToString();
      --running;
      continue;
    }
    programs[i] = *std::move(program);
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [&] { return running == 0; });
  }
  programs.clear();  // joins the pump threads
  outputs.clear();

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

SYNCSTREAM_REGISTER_COMMAND(
    run, "run", "[-j N] [--tag] [--keep_order] [--commands FILE] -- CMD...",
    "Run shell commands in parallel; print their output line by line, never "
    "mixing two commands' lines.",
    RunCommands);

}  // namespace syncstream::tools
