// //testing/bench:line_buffer_cost — the CPU cost of one LineBuffer::Write of
// a 64-byte line in one thread, robust to other load on the machine: the
// fastest and the median of many short batches (a batch that was not
// interrupted shows the cost itself). For comparing builds of the write
// path; the throughput benchmark is //testing/bench:line_buffer.
//   ./bazelw run -c opt //testing/bench:line_buffer_cost
// Environment: CAP (the buffer's maxlen, default 1000), BATCHES (default
// 20000). Instructions per write, independent of load: run it under
// `valgrind --tool=callgrind` with two BATCHES values and divide the
// difference of the totals by the difference of the writes.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "syncstream/thread/line_buffer.h"
#include "testing/bench/bench_clock.h"

using syncstream::bench::ClockNanos;

int main() {
  constexpr int kBatch = 200;
  const int kBatches = getenv("BATCHES") ? atoi(getenv("BATCHES")) : 20000;
  const int kCapacity = getenv("CAP") ? atoi(getenv("CAP")) : 1000;
  auto buffer = syncstream::LineBuffer::Create(kCapacity);
  if (!buffer.ok()) return 1;
  std::string line = "thread 0 writes a line: ";
  line.resize(63, 'x');
  line.push_back('\n');
  std::vector<double> per_line;
  per_line.reserve(kBatches);
  const int64_t cpu_start = ClockNanos(CLOCK_THREAD_CPUTIME_ID);
  for (int b = 0; b < kBatches; ++b) {
    const int64_t start = ClockNanos(CLOCK_MONOTONIC);
    for (int i = 0; i < kBatch; ++i) {
      if (!(*buffer)->Write(line).ok()) return 1;
    }
    per_line.push_back(static_cast<double>(ClockNanos(CLOCK_MONOTONIC) - start) /
                       kBatch);
  }
  const double cpu_per_line =
      static_cast<double>(ClockNanos(CLOCK_THREAD_CPUTIME_ID) - cpu_start) /
      (kBatch * kBatches);
  std::sort(per_line.begin(), per_line.end());
  std::printf("LineBuffer::Write, 64-byte line, 1 thread: min %.1f ns, "
              "p10 %.1f ns, median %.1f ns (%d batches of %d); "
              "thread CPU time %.1f ns per line\n",
              per_line.front(), per_line[per_line.size() / 10],
              per_line[per_line.size() / 2], kBatches, kBatch, cpu_per_line);
  return (*buffer)->Size() == static_cast<size_t>(kCapacity) ? 0 : 1;
}
