// The worker side of a stress run, the same in every spawn mode: write lines
// 0, 1, ... through a kind's WorkerChannel, recording progress in the commit
// ledger after each line.
//
// Exec mode re-executes the harness binary as
//   stress --worker KIND WORKER WORKERS LINES LENGTH SEED LEDGER_FD STOP_NS TOKEN
// (WorkerArgv builds it, ExecWorkerMain runs it). `--worker` must be the
// first argument; it is not a gflags flag and does not show in --help.
#ifndef SYNCSTREAM_TESTING_STRESS_WORKER_H_
#define SYNCSTREAM_TESTING_STRESS_WORKER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "testing/stress/commit_ledger.h"
#include "testing/stress/kind.h"
#include "testing/stress/line_check.h"

namespace syncstream::stress {

struct WorkerParams {
  LineSpec spec;
  int worker = 0;
  int workers = 1;
  uint64_t lines = 0;  // 0: until stop_at
  absl::Time stop_at = absl::InfiniteFuture();
};

// Writes the worker's lines, then closes the channel and marks the worker
// finished in the ledger.
absl::Status RunWorker(const WorkerParams& params, WorkerChannel& channel,
                       CommitLedger& ledger);

constexpr char kWorkerFlag[] = "--worker";

// The argv of an exec'd worker.
std::vector<std::string> WorkerArgv(const std::string& self_exe,
                                    const WorkerParams& params, int ledger_fd,
                                    const std::string& token);

// Entry point of an exec'd worker (argv[1] == kWorkerFlag). Returns the exit
// status: 0 on success, 1 on failure (the reason on stderr), 2 on bad usage.
int ExecWorkerMain(int argc, char** argv);

}  // namespace syncstream::stress

#endif  // SYNCSTREAM_TESTING_STRESS_WORKER_H_
