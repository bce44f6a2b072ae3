// Command-line help shared by syncstream's programs (the `syncstream` tool,
// the stress harness, the benchmarks): `--help` prints the usage and the
// program's own flags (name, meaning, type, default), without the dozen
// flags gflags defines for itself.
#ifndef SYNCSTREAM_TOOLS_FLAG_HELP_H_
#define SYNCSTREAM_TOOLS_FLAG_HELP_H_

#include <gflags/gflags.h>

#include <functional>
#include <ostream>

#include "absl/strings/string_view.h"

namespace syncstream::tools {

// Whether the arguments before a "--" ask for help (--help, -help or -h).
bool WantsHelp(int argc, char** argv);

// Whether `flag` is one gflags defines for itself (--flagfile, --helpxml...).
bool IsGflagsOwnFlag(const gflags::CommandLineFlagInfo& flag);

// Prints every flag for which `shown` returns true, sorted by name, as
//   --name (description)
//       type: T  default: D
// Prints nothing when no flag is shown; otherwise a "flags:" heading first.
void PrintFlags(
    std::ostream& out,
    const std::function<bool(const gflags::CommandLineFlagInfo&)>& shown);

// For a program's main(): when the arguments ask for help, prints `usage`
// and the program's flags (all but gflags' own) to stdout and exits with
// status 0. Otherwise parses the flags into their FLAGS_ variables and
// removes them from argc/argv; an unknown flag or a bad value is reported by
// gflags, which exits with status 1.
void ParseFlagsOrShowHelp(absl::string_view usage, int* argc, char*** argv);

}  // namespace syncstream::tools

#endif  // SYNCSTREAM_TOOLS_FLAG_HELP_H_
