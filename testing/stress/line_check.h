// Self-checking stress lines and the one verifier every stress kind uses.
//
// A stress line (without its '\n') is six space-separated fields:
//
//   ss1 KIND wWORKER sSEQ PAYLOAD CRC
//   ss1 thread w3 s17 q0ZkR...Fz 9c1e40a7
//
// "ss1" marks the start of a line (and so finds glued lines), KIND the sharing
// kind under test, WORKER and SEQ (decimal) the writer and its sequence number
// 0, 1, 2, ..., PAYLOAD letters and digits derived from (seed, kind, worker,
// seq), so any line can be regenerated, and CRC the zlib CRC-32 (8 lowercase
// hex digits) of everything before the space that precedes it. The payload is
// sized so that the whole line is exactly LineSpec::length bytes (or the
// bare header, if that is longer).
//
// LineChecker takes the lines a collector received, in the order received,
// and at the end the number of lines each worker committed (see
// WorkerExpectation), and finds:
//   lost          a committed line that never arrived;
//   duplicated    a line that arrived more than once;
//   garbled       a line whose format, checksum, kind, worker or length is
//                 wrong (including a line no worker wrote);
//   glued         a garbled line that holds a second line start ("ss1 "):
//                 two writers' text ran together;
//   out_of_order  a line that arrived after a later line of the same worker.
// A worker that was killed may leave one truncated final line: a proper
// prefix of the line it was writing (its next line after the last that
// arrived). That is counted as `truncated`, not garbled.
#ifndef SYNCSTREAM_TESTING_STRESS_LINE_CHECK_H_
#define SYNCSTREAM_TESTING_STRESS_LINE_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncstream::stress {

struct LineSpec {
  std::string kind;    // no spaces
  uint64_t seed = 0;
  size_t length = 100;  // bytes per line, without '\n'
};

// The line `seq` of `worker` (without '\n').
std::string MakeLine(const LineSpec& spec, int worker, uint64_t seq);
// Its length: spec.length, or the header if that is longer.
size_t LineLength(const LineSpec& spec, int worker, uint64_t seq);
// The shortest line length that fits the header and an empty payload of any
// line with worker < workers and seq < lines.
size_t MinLineLength(absl::string_view kind, int workers, uint64_t lines);

struct ParsedLine {
  absl::string_view kind;
  int worker = 0;
  uint64_t seq = 0;
};
// Checks format and checksum. The kind view points into `line`.
absl::StatusOr<ParsedLine> ParseLine(absl::string_view line);

// What the parent knows about a worker once it ended.
struct WorkerExpectation {
  // Lines the worker committed: lines 0 .. committed-1 must all arrive.
  uint64_t committed = 0;
  // The harness killed it: lines from `committed` on may be missing, the last
  // may be truncated. (Delivery is first-in first-out per worker, so a line
  // that arrived proves that all of that worker's earlier lines were
  // delivered: they must have arrived too.)
  bool killed = false;
};

struct CheckCounts {
  uint64_t expected = 0;      // sum of what must arrive
  uint64_t received = 0;      // every line fed to Add()
  uint64_t valid = 0;         // distinct well-formed lines
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t garbled = 0;       // includes `glued`
  uint64_t glued = 0;
  uint64_t out_of_order = 0;
  uint64_t truncated = 0;     // allowed: killed workers' last partial lines

  bool ok() const {
    return lost == 0 && duplicated == 0 && garbled == 0 && out_of_order == 0;
  }
};

struct CheckResult {
  CheckCounts counts;
  // The first few problems, described ("lost: worker 2 lines 17-19").
  std::vector<std::string> problems;
  bool ok() const { return counts.ok(); }
};

// Not thread-safe: one collector thread feeds it.
class LineChecker {
 public:
  LineChecker(LineSpec spec, int workers);

  // One received line (without '\n').
  void Add(absl::string_view line);
  uint64_t received() const { return counts_.received; }

  // The verdict, given each worker's expectation (workers.size() must be the
  // worker count). Call once, after the last Add().
  CheckResult Finish(const std::vector<WorkerExpectation>& workers);

 private:
  struct WorkerState {
    std::vector<bool> seen;
    uint64_t distinct = 0;
    uint64_t next = 0;  // highest seq seen + 1
  };
  void Problem(std::string text);

  const LineSpec spec_;
  std::vector<WorkerState> workers_;
  CheckCounts counts_;
  std::vector<std::string> invalid_;  // kept for Finish (bounded)
  std::vector<std::string> problems_;
};

}  // namespace syncstream::stress

#endif  // SYNCSTREAM_TESTING_STRESS_LINE_CHECK_H_
