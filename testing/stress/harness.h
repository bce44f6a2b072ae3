// The harness core: runs one (kind, spawn mode) and checks what arrived.
// Knows nothing about any particular kind (see kind.h).
#ifndef SYNCSTREAM_TESTING_STRESS_HARNESS_H_
#define SYNCSTREAM_TESTING_STRESS_HARNESS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "testing/stress/kind.h"
#include "testing/stress/line_check.h"

namespace syncstream::stress {

// Deliberate damage to the received stream, to prove the checks fire
// (harness self-test; see --inject_fault).
enum class Fault { kNone, kLose, kDuplicate, kGarble, kGlue, kReorder };
absl::StatusOr<Fault> ParseFault(absl::string_view name);

struct RunOptions {
  Kind* kind = nullptr;
  SpawnMode mode = SpawnMode::kThreads;
  int workers = 4;
  uint64_t lines_per_worker = 10000;  // 0: until `duration`
  size_t line_length = 100;
  absl::Duration duration = absl::ZeroDuration();  // 0: no time cap
  // Probability that a worker is chosen to be SIGKILLed (fork/exec modes of
  // kinds that support kills). A chosen worker writes without a line limit
  // and is killed once it wrote a random number of lines.
  double kill_rate = 0;
  uint64_t seed = 1;
  size_t max_buffer_lines = 1 << 20;
  // The whole run (workers and drain) must end within this.
  absl::Duration timeout = absl::Minutes(5);
  std::string self_exe;    // exec mode: the harness binary
  std::string scratch_root;  // where the run's scratch directory is made
  Fault fault = Fault::kNone;
};

struct Progress {
  absl::string_view kind;
  SpawnMode mode;
  uint64_t written = 0;
  uint64_t received = 0;
  int alive = 0;
  absl::Duration elapsed;
};

struct RunReport {
  std::string kind;
  SpawnMode mode = SpawnMode::kThreads;
  int workers = 0;
  int killed = 0;
  CheckResult check;
  // Failures outside the checked stream: a worker that failed, a collector
  // error, a timeout, a set-up error.
  std::vector<std::string> errors;
  absl::Duration elapsed;
  double lines_per_second = 0;
  uint64_t seed = 0;

  bool ok() const { return errors.empty() && check.ok(); }
};

// Runs one kind in one mode. `progress` (may be empty) is called from this
// thread about every 200 ms while workers run.
RunReport RunOne(const RunOptions& options,
                 const std::function<void(const Progress&)>& progress);

}  // namespace syncstream::stress

#endif  // SYNCSTREAM_TESTING_STRESS_HARNESS_H_
