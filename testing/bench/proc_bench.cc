// //testing/bench:proc — lines/s collected by a LineProcBuffer from child
// processes, beside same-run baselines of the same children writing their
// lines to pipes that the parent reads into a record store.
//
//   ./bazelw run -c opt //testing/bench:proc -- [--children=4]
//       [--lines=1000000] [--line_bytes=64] [--repeat=3]
//       [--batch_bytes=65536] [--queue_bytes=4194304] [--modes=...]
//
// Every mode forks `children` processes; each writes `lines` lines of
// `line_bytes` bytes (the '\n' included), one write call per line. The
// parent collects every line into a store of the last 4096 records: proc
// into the buffer's RecordBlockStore (each validated batch kept whole,
// records decoded when read), the pipe modes into a RecordStore (one
// Append per assembled line, as before: the baselines are unchanged). The clock runs from before the
// first fork until the parent holds every line and every child was reaped.
//
// Modes:
//   proc            LineProcBuffer + one LineProcMirror per child (fork)
//   pipe-line       each child write(2)s each line to its pipe (a
//                   line-buffered stdout); the parent polls the pipes,
//                   assembles lines with LineAssembler, stores records
//   pipe-buffered   as pipe-line, but each child buffers 64 KiB per write(2)
// Reported: the best of `repeat` runs per mode (wall clock, and CPU seconds
// of the parent and its children, which is robust on a shared machine, with
// its split in CPU ns per line), and proc's ratio to each pipe baseline.
#include <gflags/gflags.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/line_assembler.h"
#include "syncstream/core/record_store.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/proc/line_proc_buffer.h"
#include "syncstream/core/deadline.h"
#include "tools/flag_help.h"

DEFINE_int32(children, 4, "Child processes.");
DEFINE_int64(lines, 1000000, "Lines per child.");
DEFINE_int32(line_bytes, 64, "Bytes per line, '\\n' included (>= 16).");
DEFINE_int32(repeat, 3, "Runs per mode; the best is reported.");
DEFINE_int64(batch_bytes, syncstream::LineProcBufferOptions().batch_bytes,
             "proc: LineProcBufferOptions::batch_bytes.");
DEFINE_int64(queue_bytes, syncstream::LineProcBufferOptions().queue_bytes,
             "proc: LineProcBufferOptions::queue_bytes.");
DEFINE_string(modes, "proc,pipe-line,pipe-buffered",
              "Modes to run (comma-separated); ratios need all three.");

namespace syncstream {
namespace {

constexpr size_t kStoreRecords = 4096;

// CPU seconds used so far by this process (RUSAGE_SELF) or its reaped
// children (RUSAGE_CHILDREN).
double CpuSeconds(int who) {
  struct rusage usage;
  ::getrusage(who, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
}

// The lines of child `c`, `FLAGS_line_bytes` long with their '\n':
// "cC NNNNNNNNNNNN xxx...x" with NNNNNNNNNNNN = 0, 1, 2, ... Made by hand,
// with the number counted up in place (a dozen divisions per line cost as
// much as a third of a collected line): the benchmark measures collection,
// not printf. Every mode makes its lines with it.
class LineMaker {
 public:
  explicit LineMaker(int c) {
    line_ = absl::StrCat("c", c, " 000000000000 ");
    digits_end_ = line_.size() - 1;
    line_.resize(static_cast<size_t>(FLAGS_line_bytes) - 1, 'x');
    line_.push_back('\n');
  }
  // The current line.
  const std::string& line() const { return line_; }
  // Moves on to the next number.
  void Next() {
    for (size_t d = digits_end_; d-- > digits_end_ - 12;) {
      if (line_[d] != '9') {
        ++line_[d];
        return;
      }
      line_[d] = '0';
    }
  }

 private:
  std::string line_;
  size_t digits_end_;  // one past the last digit
};

void Die(const absl::Status& status) {
  std::fprintf(stderr, "proc bench: %s\n", status.ToString().c_str());
  std::exit(1);
}

void ReapAll(std::vector<ChildProcess>& children) {
  for (ChildProcess& child : children) {
    absl::StatusOr<ExitStatus> status = child.Wait(absl::Seconds(120));
    if (!status.ok()) Die(status.status());
    if (!status->success()) {
      Die(absl::InternalError("a child " + status->ToString()));
    }
  }
}

// Seconds to collect everything through a LineProcBuffer.
double RunProc() {
  LineProcBufferOptions options;
  options.batch_bytes = static_cast<size_t>(FLAGS_batch_bytes);
  options.queue_bytes = static_cast<size_t>(FLAGS_queue_bytes);
  auto buffer = LineProcBuffer::Create(kStoreRecords, options);
  if (!buffer.ok()) Die(buffer.status());
  std::vector<std::unique_ptr<LineProcMirror>> mirrors;
  for (int c = 0; c < FLAGS_children; ++c) {
    auto mirror = (*buffer)->NewMirror(absl::StrCat("c", c));
    if (!mirror.ok()) Die(mirror.status());
    mirrors.push_back(*std::move(mirror));
  }
  absl::Time start = ::syncstream::Now();
  std::vector<ChildProcess> children;
  for (int c = 0; c < FLAGS_children; ++c) {
    LineProcMirror& mirror = *mirrors[c];
    auto child = ChildProcess::Fork([&mirror, c] {
      absl::Status status = RunInMirror(mirror, [&] {
        LineMaker maker(c);
        for (int64_t i = 0; i < FLAGS_lines; ++i, maker.Next()) {
          absl::Status written = mirror.Write(maker.line());
          if (!written.ok()) throw std::runtime_error(written.ToString());
        }
      });
      return status.ok() ? 0 : 1;
    });
    if (!child.ok()) Die(child.status());
    children.push_back(*std::move(child));
  }
  absl::Status waited = (*buffer)->Wait(absl::Seconds(300));
  if (!waited.ok()) Die(waited);
  ReapAll(children);
  double seconds = absl::ToDoubleSeconds(::syncstream::Now() - start);
  uint64_t expected =
      static_cast<uint64_t>(FLAGS_children) * (FLAGS_lines + 1);  // + eof
  if ((*buffer)->store().end_position() != expected) {
    // Name the cause: the records that are not lines (errors, warnings).
    std::fprintf(stderr, "dropped batches %llu\n",
                 static_cast<unsigned long long>((*buffer)->dropped_batches()));
    for (const Record& r : (*buffer)->Read()) {
      if (!r.is_line()) std::fprintf(stderr, "%s\n", FormatRecord(r).c_str());
    }
    Die(absl::InternalError(absl::StrCat(
        "proc: collected ", (*buffer)->store().end_position(),
        " records, expected ", expected)));
  }
  return seconds;
}

// Seconds to collect everything through pipes; `chunk` bytes per write(2)
// in the children (line_bytes: one write per line).
double RunPipes(size_t chunk) {
  auto store = RecordStore::Create(kStoreRecords);
  if (!store.ok()) Die(store.status());
  absl::Time start = ::syncstream::Now();
  std::vector<ChildProcess> children;
  std::vector<UniqueFd> read_ends;
  for (int c = 0; c < FLAGS_children; ++c) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) Die(absl::InternalError("pipe2"));
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    int out = write_end.get();
    auto child = ChildProcess::Fork([out, c, chunk] {
      LineMaker maker(c);
      std::string pending;
      for (int64_t i = 0; i < FLAGS_lines; ++i, maker.Next()) {
        pending += maker.line();
        if (pending.size() >= chunk || i + 1 == FLAGS_lines) {
          size_t done = 0;
          while (done < pending.size()) {
            ssize_t n = ::write(out, pending.data() + done,
                                pending.size() - done);
            if (n <= 0) return 1;
            done += static_cast<size_t>(n);
          }
          pending.clear();
        }
      }
      return 0;
    });
    if (!child.ok()) Die(child.status());
    children.push_back(*std::move(child));
    read_ends.push_back(std::move(read_end));
  }
  // The parent: one collector thread's worth of work, as in the buffer.
  std::vector<pollfd> fds;
  std::vector<LineAssembler> assemblers(FLAGS_children);
  std::vector<Record> scratch(FLAGS_children);
  std::vector<uint64_t> sequence(FLAGS_children, 0);
  for (int c = 0; c < FLAGS_children; ++c) {
    fds.push_back({read_ends[c].get(), POLLIN, 0});
    scratch[c].sender = absl::StrCat("c", c);
  }
  std::unique_ptr<char[]> buffer(new char[1 << 16]);
  uint64_t lines = 0;
  int open = FLAGS_children;
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
    for (int c = 0; c < FLAGS_children; ++c) {
      if (fds[c].fd < 0 || fds[c].revents == 0) continue;
      ssize_t n = ::read(fds[c].fd, buffer.get(), 1 << 16);
      if (n <= 0) {
        fds[c].fd = -1;
        --open;
        continue;
      }
      assemblers[c].Append(absl::string_view(buffer.get(), n),
                           [&](absl::string_view text, bool continued) {
                             Record& r = scratch[c];
                             r.sequence = sequence[c]++;
                             r.timestamp = ::syncstream::Now();
                             r.text.assign(text.data(), text.size());
                             r.continued = continued;
                             (*store)->Append(r);
                             ++lines;
                           });
    }
  }
  ReapAll(children);
  double seconds = absl::ToDoubleSeconds(::syncstream::Now() - start);
  uint64_t expected = static_cast<uint64_t>(FLAGS_children) * FLAGS_lines;
  if (lines != expected) {
    Die(absl::InternalError(
        absl::StrCat("pipe: collected ", lines, " lines, expected ", expected)));
  }
  return seconds;
}

int Main() {
  if (FLAGS_line_bytes < 16 || FLAGS_children < 1 || FLAGS_lines < 1 ||
      FLAGS_repeat < 1) {
    std::fprintf(stderr, "proc bench: bad flags\n");
    return 2;
  }
  const double total =
      static_cast<double>(FLAGS_children) * static_cast<double>(FLAGS_lines);
  struct Mode {
    const char* name;
    std::function<double()> run;
    double best = 1e100;      // wall seconds
    double best_cpu = 1e100;  // CPU seconds, parent and children
    double parent_cpu = 0;    // of the run with the least CPU: the parent's
  };
  std::vector<Mode> modes = {
      {"proc", [] { return RunProc(); }},
      {"pipe-line", [] { return RunPipes(FLAGS_line_bytes); }},
      {"pipe-buffered", [] { return RunPipes(64 * 1024); }},
  };
  std::vector<std::string> wanted = absl::StrSplit(FLAGS_modes, ',');
  auto selected = [&](const Mode& mode) {
    return std::find(wanted.begin(), wanted.end(), mode.name) != wanted.end();
  };
  for (int r = 0; r < FLAGS_repeat; ++r) {
    for (Mode& mode : modes) {
      if (!selected(mode)) continue;
      double parent = CpuSeconds(RUSAGE_SELF);
      double children = CpuSeconds(RUSAGE_CHILDREN);
      mode.best = std::min(mode.best, mode.run());
      parent = CpuSeconds(RUSAGE_SELF) - parent;
      children = CpuSeconds(RUSAGE_CHILDREN) - children;
      if (parent + children < mode.best_cpu) {
        mode.best_cpu = parent + children;
        mode.parent_cpu = parent;
      }
    }
  }
  std::printf("%d children x %lld lines of %d bytes, best of %d runs\n",
              FLAGS_children, static_cast<long long>(FLAGS_lines),
              FLAGS_line_bytes, FLAGS_repeat);
  for (const Mode& mode : modes) {
    if (!selected(mode)) continue;
    std::printf("  %-14s %8.3f s  %12.0f lines/s   %7.3f CPU s  %12.0f "
                "lines/CPU s  (CPU ns/line: parent %.0f + children %.0f)\n",
                mode.name, mode.best, total / mode.best, mode.best_cpu,
                total / mode.best_cpu, mode.parent_cpu / total * 1e9,
                (mode.best_cpu - mode.parent_cpu) / total * 1e9);
  }
  if (wanted.size() < 3) return 0;
  std::printf("  proc / pipe-line:     %.2fx wall, %.2fx CPU\n",
              modes[1].best / modes[0].best,
              modes[1].best_cpu / modes[0].best_cpu);
  std::printf("  proc / pipe-buffered: %.2fx wall, %.2fx CPU\n",
              modes[2].best / modes[0].best,
              modes[2].best_cpu / modes[0].best_cpu);
  return 0;
}

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  syncstream::tools::ParseFlagsOrShowHelp(
      "proc: lines/s collected by a LineProcBuffer from child processes, beside same-run baselines of the same children writing their lines to pipes (one write per line, and 64 KiB writes); with the CPU split per line.\n\nusage: proc [flags]",
      &argc, &argv);
  return syncstream::Main();
}
