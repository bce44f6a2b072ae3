// The stress harness's final report: a table for people, JSON for scripts.
#ifndef SYNCSTREAM_TESTING_STRESS_REPORT_H_
#define SYNCSTREAM_TESTING_STRESS_REPORT_H_

#include <string>
#include <vector>

#include "testing/stress/harness.h"

namespace syncstream::stress {

// One row per run: kind, mode, workers, killed, sent (lines that had to
// arrive), received, lost, duplicated, garbled, glued, out-of-order,
// lines/s, result; then the problems and errors of failed runs.
std::string FormatTable(const std::vector<RunReport>& reports);

// {"ok": true, "seed": 1, "runs": [{"kind": "thread", "mode": "threads",
//   "workers": 4, "killed": 0, "sent": ..., "received": ..., "valid": ...,
//   "lost": 0, "duplicated": 0, "garbled": 0, "glued": 0, "out_of_order": 0,
//   "truncated": 0, "elapsed_seconds": 0.41, "lines_per_second": 1.9e6,
//   "result": "ok", "problems": [...], "errors": [...]}, ...]}
std::string FormatJson(const std::vector<RunReport>& reports);

}  // namespace syncstream::stress

#endif  // SYNCSTREAM_TESTING_STRESS_REPORT_H_
