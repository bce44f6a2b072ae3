// Runs a program (the `syncstream` binary, in the tools tests) as a real
// child process with a given stdin, capturing its stdout and stderr.
#ifndef SYNCSTREAM_TOOLS_TESTING_RUN_TOOL_H_
#define SYNCSTREAM_TOOLS_TESTING_RUN_TOOL_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "syncstream/core/child_process.h"

namespace syncstream::tools::testing {

struct ToolOutcome {
  ExitStatus status;  // default (neither exited nor signalled) if it hung
  std::string out;
  std::string err;
};

// A path under $TEST_TMPDIR (else /tmp) unique to this process and call.
std::string TempPath(const std::string& name);

// Runs `argv` with `input` on stdin and waits up to `timeout` (then it is
// killed, and the failure recorded with gtest).
ToolOutcome RunTool(const std::vector<std::string>& argv,
                    const std::string& input = "",
                    absl::Duration timeout = absl::Seconds(60));

}  // namespace syncstream::tools::testing

#endif  // SYNCSTREAM_TOOLS_TESTING_RUN_TOOL_H_
