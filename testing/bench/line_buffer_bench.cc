// LineBuffer throughput: 64-byte lines written by 1, 2 and 4 threads into one
// buffer of the last N lines (N = 1000 and 100000), beside what a user would
// write by hand (a std::mutex around a std::deque<std::string> keeping the
// last N), and the ratio of the two.
//
//   ./bazelw run -c opt //testing/bench:line_buffer
//   (Google Benchmark flags work too, e.g. -- --benchmark_repetitions=3)
//   ./bazelw run -c opt //testing/bench:line_buffer -- --busy
//   (the busy-machine case: one busy-looping process per core runs beside
//   both the LineBuffer and the baseline for the whole run)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "syncstream/thread/line_buffer.h"

namespace syncstream {
namespace {

constexpr size_t kLineBytes = 64;  // including the '\n'

// A 64-byte line (63 characters and '\n') that names its thread.
std::string Line(int thread) {
  std::string line = absl::StrCat("thread ", thread, " writes a line: ");
  line.resize(kLineBytes - 1, 'x');
  line.push_back('\n');
  return line;
}

// The lines a buffer holds once every thread has finished (the loop's end is
// a barrier).
size_t Expected(const benchmark::State& state) {
  return std::min<size_t>(
      static_cast<size_t>(state.iterations()) * state.threads(),
      static_cast<size_t>(state.range(0)));
}

// The baseline: what a user would write by hand for "the last N lines from
// many threads".
class HandWrittenBuffer {
 public:
  explicit HandWrittenBuffer(size_t maxlen) : maxlen_(maxlen) {}
  void Write(absl::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    std::lock_guard<std::mutex> guard(mutex_);
    lines_.emplace_back(line);
    if (lines_.size() > maxlen_) lines_.pop_front();
  }
  size_t size() {
    std::lock_guard<std::mutex> guard(mutex_);
    return lines_.size();
  }

 private:
  const size_t maxlen_;
  std::mutex mutex_;
  std::deque<std::string> lines_;
};

void BM_LineBuffer(benchmark::State& state) {
  static std::unique_ptr<LineBuffer> buffer;
  if (state.thread_index() == 0) {
    absl::StatusOr<std::unique_ptr<LineBuffer>> created =
        LineBuffer::Create(static_cast<size_t>(state.range(0)));
    if (!created.ok()) {
      state.SkipWithError(std::string(created.status().message()).c_str());
      return;
    }
    buffer = *std::move(created);
  }
  const std::string line = Line(state.thread_index());
  for (auto _ : state) {
    absl::Status written = buffer->Write(line);
    benchmark::DoNotOptimize(written);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kLineBytes);
  if (state.thread_index() == 0 && buffer->Size() != Expected(state)) {
    state.SkipWithError("lines went missing");
  }
}

void BM_MutexDequeBaseline(benchmark::State& state) {
  static std::unique_ptr<HandWrittenBuffer> buffer;
  if (state.thread_index() == 0) {
    buffer = std::make_unique<HandWrittenBuffer>(
        static_cast<size_t>(state.range(0)));
  }
  const std::string line = Line(state.thread_index());
  for (auto _ : state) buffer->Write(line);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kLineBytes);
  if (state.thread_index() == 0 && buffer->size() != Expected(state)) {
    state.SkipWithError("lines went missing");
  }
}

void Configure(benchmark::internal::Benchmark* b) {
  b->ArgName("maxlen")->Arg(1000)->Arg(100000);
  b->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
}
BENCHMARK(BM_LineBuffer)->Apply(Configure);
BENCHMARK(BM_MutexDequeBaseline)->Apply(Configure);

// Prints the usual console table, remembering lines/s per benchmark and
// thread count for the ratio table printed at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      // With --benchmark_repetitions, use the median.
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") {
        continue;
      }
      auto rate = run.counters.find("items_per_second");
      if (rate == run.counters.end()) continue;
      Figures& figures = figures_[{run.run_name.function_name,
                                   run.run_name.args, run.threads}];
      figures.lines_per_second = rate->second.value;
      // CPU time per line of one thread: robust when other processes
      // compete for the cores, where wall-clock rates are not.
      figures.cpu_ns_per_line = run.GetAdjustedCPUTime() * 1e9 /
                                benchmark::GetTimeUnitMultiplier(run.time_unit);
    }
  }

  void PrintRatios() const {
    std::printf("\n%-14s %-8s %20s %20s %7s   %18s %18s\n", "", "threads",
                "LineBuffer lines/s", "mutex+deque lines/s", "ratio",
                "LineBuffer cpu/line", "mutex+deque cpu/line");
    for (const auto& [key, ours] : figures_) {
      const auto& [function, args, threads] = key;
      if (function != "BM_LineBuffer") continue;
      auto base = figures_.find({"BM_MutexDequeBaseline", args, threads});
      if (base == figures_.end()) continue;
      std::printf("%-14s %-8d %19.2fM %19.2fM %6.2fx   %16.1fns %16.1fns\n",
                  args.c_str(), static_cast<int>(threads),
                  ours.lines_per_second / 1e6,
                  base->second.lines_per_second / 1e6,
                  ours.lines_per_second / base->second.lines_per_second,
                  ours.cpu_ns_per_line, base->second.cpu_ns_per_line);
    }
  }

 private:
  struct Figures {
    double lines_per_second = 0;
    double cpu_ns_per_line = 0;
  };
  // By (function, "maxlen:N", threads).
  std::map<std::tuple<std::string, std::string, int64_t>, Figures> figures_;
};

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  // --busy: one busy-looping process per core beside the whole run.
  bool busy = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--busy") == 0) {
      busy = true;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::vector<pid_t> loops;
  if (busy) {
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < cores; ++i) {
      const pid_t pid = fork();
      if (pid == 0) {
        for (volatile uint64_t spin = 0;; spin = spin + 1) {
        }
      }
      if (pid > 0) loops.push_back(pid);
    }
    std::printf("busy machine: %zu busy-looping processes beside the run\n",
                loops.size());
  }
  syncstream::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  for (pid_t pid : loops) kill(pid, SIGKILL);
  for (pid_t pid : loops) waitpid(pid, nullptr, 0);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
