// //testing/bench:line_buffer_cost — the CPU cost of one LineBuffer::Write of
// a 64-byte line in one thread, robust to other load on the machine: the
// fastest and the median of many short batches (a batch that was not
// interrupted shows the cost itself). For comparing builds of the write
// path; the throughput benchmark is //testing/bench:line_buffer.
//   ./bazelw run -c opt //testing/bench:line_buffer_cost
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "syncstream/thread/line_buffer.h"

namespace {

int64_t MonotonicNs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

}  // namespace

int main() {
  constexpr int kBatch = 200;
  constexpr int kBatches = 20000;
  auto buffer = syncstream::LineBuffer::Create(1000);
  if (!buffer.ok()) return 1;
  std::string line = "thread 0 writes a line: ";
  line.resize(63, 'x');
  line.push_back('\n');
  std::vector<double> per_line;
  per_line.reserve(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    const int64_t start = MonotonicNs();
    for (int i = 0; i < kBatch; ++i) {
      if (!(*buffer)->Write(line).ok()) return 1;
    }
    per_line.push_back(static_cast<double>(MonotonicNs() - start) / kBatch);
  }
  std::sort(per_line.begin(), per_line.end());
  std::printf("LineBuffer::Write, 64-byte line, 1 thread: min %.1f ns, "
              "p10 %.1f ns, median %.1f ns (%d batches of %d)\n",
              per_line.front(), per_line[per_line.size() / 10],
              per_line[per_line.size() / 2], kBatches, kBatch);
  return (*buffer)->Size() == 1000 ? 0 : 1;
}
