// Workloads run inside a mirror by the proc tests: the same code in a forked
// child (called directly) and in an exec'd child (mirror_child.cc).
#ifndef SYNCSTREAM_PROC_TESTING_WORKLOADS_H_
#define SYNCSTREAM_PROC_TESTING_WORKLOADS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "syncstream/proc/line_proc_mirror.h"

namespace syncstream::proc_testing {

// The i-th line of writer `prefix`: "PREFIX 000123".
std::string NumberedLine(const std::string& prefix, uint64_t i);

// Writes `count` numbered lines, each in two writes (the text, then the
// number and '\n') so that partial lines are in flight all the time. Stops
// at the first failed write and returns its status.
absl::Status WriteNumberedLines(LineProcMirror& mirror,
                                const std::string& prefix, uint64_t count);

// sync-stream's process test body: 10 lines "NAME line i", a warning
// "NAME warns", then throws std::runtime_error("NAME fails"). Run it through
// RunInMirror.
void LinesWarningAndThrow(LineProcMirror& mirror, const std::string& name);

// Writes `lines` numbered lines and a partial line "PREFIX partial", sends
// the complete lines (Sync), then kills its own process with SIGKILL: the
// partial line dies with it.
void WriteThenDieMidLine(LineProcMirror& mirror, const std::string& prefix,
                         uint64_t lines);

// Writes numbered lines until a write fails (StopAllMirrors), with a partial
// line "PREFIX pending" before the failing write; returns 0 if the failure
// was the stop (FailedPrecondition), else 1. Gives up after `max_lines`.
int WriteUntilStopped(LineProcMirror& mirror, const std::string& prefix,
                      uint64_t max_lines);

// Captures the process's stdout and stderr into the mirror
// (ScopedFdCapture), then prints "from printf" with printf, "to stderr "
// to stderr, and runs a shell that prints "from a grandchild" to stdout and
// "end" to stderr. Throws std::runtime_error if the capture or the shell
// fails. Run it through RunInMirror.
void PrintThroughFdCapture(LineProcMirror& mirror);

}  // namespace syncstream::proc_testing

#endif  // SYNCSTREAM_PROC_TESTING_WORKLOADS_H_
