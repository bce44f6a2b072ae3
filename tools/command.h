// The `syncstream` command: one binary, subcommands registered by the libraries
// linked into it (tools/BUILD.bazel). Each subcommand lives in its own file,
// defines its gflags there, and registers itself:
//
//   SYNCSTREAM_REGISTER_COMMAND(queue_inspect, "queue inspect",
//       "Show a queue's header and participants.", __FILE__, RunQueueInspect);
//
// `syncstream queue inspect --help` prints the summary and only the flags
// defined in that file. A command's run function receives the positional
// arguments left after gflags parsing (without the command words) and returns
// the process exit status.
#ifndef SYNCSTREAM_TOOLS_COMMAND_H_
#define SYNCSTREAM_TOOLS_COMMAND_H_

#include <functional>
#include <string>
#include <vector>

namespace syncstream::tools {

struct Command {
  std::string words;        // "queue inspect"
  std::string usage;        // "NAME [--json]"
  std::string summary;      // one line
  std::string flags_file;   // __FILE__ of the defining file, for --help
  std::function<int(const std::vector<std::string>& args)> run;
};

// Registers `command`; returns true so it can initialize a static.
bool RegisterCommand(Command command);
const std::vector<Command>& Commands();

}  // namespace syncstream::tools

#define SYNCSTREAM_REGISTER_COMMAND(id, words, usage, summary, run_function) \
  static const bool syncstream_command_registered_##id =                     \
      ::syncstream::tools::RegisterCommand(                                  \
          {words, usage, summary, __FILE__, run_function})

#endif  // SYNCSTREAM_TOOLS_COMMAND_H_
