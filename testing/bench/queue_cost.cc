// //testing/bench:queue_cost — the queue's CPU cost per operation in one
// thread: process CPU time, so other load on the machine barely changes it,
// and no contention (the cross-process rates are //testing/bench:queue).
// For comparing builds of the append and read paths.
//   ./bazelw run -c opt //testing/bench:queue_cost
// Instructions per operation, independent of load: run it under
// `valgrind --tool=callgrind` with two MESSAGES values and divide the
// difference of the totals by the difference of the messages.
// Environment: MESSAGES (per case, default 2000000; a multiple of 1000).
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "syncstream/queue/sync_queue.h"
#include "testing/bench/bench_clock.h"

namespace {

using syncstream::OutgoingMessage;
using syncstream::QueueMessage;
using syncstream::QueueMessageView;
using syncstream::QueueRole;
using syncstream::SyncQueue;

constexpr size_t kBody = 100;
constexpr int kRound = 1000;  // messages appended, then read, per round

int64_t CpuNanos() { return syncstream::bench::ClockNanos(CLOCK_PROCESS_CPUTIME_ID); }

// The queue this run created: removed when a failure ends the run early
// (its participants are this process's, so nobody else would unlink it).
std::string g_queue_name;

// Exits with the status's message: a failed operation voids the figures.
void Check(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, std::string(status.message()).c_str());
  if (!g_queue_name.empty()) SyncQueue::Remove(g_queue_name).IgnoreError();
  std::exit(1);
}

void Report(const char* what, int64_t cpu_start, long messages) {
  std::printf("%-44s %6.1f ns CPU per message\n", what,
              static_cast<double>(CpuNanos() - cpu_start) / messages);
}

}  // namespace

int main() {
  const long messages = getenv("MESSAGES") ? atol(getenv("MESSAGES")) : 2'000'000;
  const long rounds = messages / kRound;
  if (rounds <= 0) {
    std::fprintf(stderr, "MESSAGES must be at least %d\n", kRound);
    return 2;
  }
  const std::string name = absl::StrCat("cost-", getpid());
  auto queue = SyncQueue::Create(name, 4 << 20);
  Check(queue.status(), "create");
  g_queue_name = name;
  auto writer = queue->Attach("w", QueueRole::kWriter);
  Check(writer.status(), "attach writer");
  const std::string body(kBody, 'x');

  // Without a reader nothing is held: space is reclaimed as the ring laps.
  int64_t start = CpuNanos();
  for (long i = 0; i < rounds * kRound; ++i) Check(writer->Append("t", body), "Append");
  Report("Append, no reader", start, rounds * kRound);

  auto reader = queue->Attach("r", QueueRole::kReader);
  Check(reader.status(), "attach reader");
  size_t bytes = 0;
  auto count = [&](const QueueMessageView& m) { bytes += m.body.size(); };
  start = CpuNanos();
  for (long r = 0; r < rounds; ++r) {
    for (int i = 0; i < kRound; ++i) Check(writer->Append("t", body), "Append");
    auto n = reader->ForEachAvailable(count);
    Check(n.status(), "ForEachAvailable");
    if (*n != kRound) Check(absl::DataLossError("a round lost messages"), "ForEachAvailable");
  }
  Report("Append + ForEachAvailable", start, rounds * kRound);

  QueueMessage message;
  start = CpuNanos();
  for (long r = 0; r < rounds; ++r) {
    for (int i = 0; i < kRound; ++i) Check(writer->Append("t", body), "Append");
    for (int i = 0; i < kRound; ++i) {
      auto got = reader->PopInto(&message);
      Check(got.status(), "PopInto");
      if (!*got) Check(absl::DataLossError("a round lost messages"), "PopInto");
    }
  }
  Report("Append + PopInto", start, rounds * kRound);

  const std::vector<OutgoingMessage> batch(16, OutgoingMessage{"t", body});
  start = CpuNanos();
  for (long r = 0; r < rounds; ++r) {
    for (int i = 0; i < kRound / 16; ++i) Check(writer->AppendBatch(batch), "AppendBatch");
    auto n = reader->ForEachAvailable(count);
    Check(n.status(), "ForEachAvailable");
  }
  Report("AppendBatch(16) + ForEachAvailable", start, rounds * (kRound / 16) * 16);

  Check(SyncQueue::Remove(name), "remove");
  return bytes > 0 ? 0 : 1;
}
