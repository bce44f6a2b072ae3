// The `syncstream` command: one binary, subcommands registered by the libraries
// linked into it (tools/BUILD.bazel). Each subcommand lives in its own file,
// defines its gflags there, and registers itself:
//
//   SYNCSTREAM_REGISTER_COMMAND(queue_inspect, "queue inspect", "NAME [--json]",
//       "Show a queue's header and participants.", RunQueueInspect);
//
// A command's flags are exactly those its usage names ("--json", "-n N"):
// `syncstream queue inspect --help` lists them and no other, and any other
// flag is a usage error (exit status 2). A command's run function receives
// the positional arguments left after its flags (without the command words)
// and returns the process exit status: 0 on success, 1 on a failure (its
// message on stderr), 2 on a usage error, unless `exit_statuses` says more.
#ifndef SYNCSTREAM_TOOLS_COMMAND_H_
#define SYNCSTREAM_TOOLS_COMMAND_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace syncstream::tools {

// The exit status of every command given a bad flag, value or argument.
inline constexpr int kUsageError = 2;

struct Command {
  std::string words;        // "queue inspect"
  std::string usage;        // "NAME [--json]": names every flag it takes
  std::string summary;      // one line
  std::string flags_file;   // __FILE__ of the defining file
  std::function<int(const std::vector<std::string>& args)> run;
  // The exit statuses in --help, when they are not just 0, 1 and 2.
  std::string exit_statuses;
};

// Registers `command`; returns true so it can initialize a static.
bool RegisterCommand(Command command);
const std::vector<Command>& Commands();

// Whether `command`'s usage names flag `name` ("--name" or "-name").
bool CommandTakesFlag(const Command& command, absl::string_view name);

// Parses `args` (the arguments after the command words) the way gflags does
// (--name=value, --name value, -name, --noname for a bool, '-' and '_' alike
// in names, "--" ends the flags) into the flags' FLAGS_ variables, accepting
// only the flags `command` takes. Returns the positional arguments, or false
// with `*error` set ("unknown flag --x", "bad value 'abc' for -j: ...").
bool ParseCommandFlags(const Command& command,
                       const std::vector<std::string>& args,
                       std::vector<std::string>* positional,
                       std::string* error);

// The flags defined in the files of registered commands that no command's
// usage names (a flag nobody could pass); empty when all is well.
std::vector<std::string> FlagsNoCommandTakes();

}  // namespace syncstream::tools

#define SYNCSTREAM_REGISTER_COMMAND(id, words, usage, summary, run_function) \
  static const bool syncstream_command_registered_##id =                     \
      ::syncstream::tools::RegisterCommand(                                  \
          {words, usage, summary, __FILE__, run_function, ""})

// As SYNCSTREAM_REGISTER_COMMAND, with the command's exit statuses for --help.
#define SYNCSTREAM_REGISTER_COMMAND_WITH_EXIT_STATUSES(                  \
    id, words, usage, summary, run_function, exit_statuses)              \
  static const bool syncstream_command_registered_##id =                 \
      ::syncstream::tools::RegisterCommand(                              \
          {words, usage, summary, __FILE__, run_function, exit_statuses})

#endif  // SYNCSTREAM_TOOLS_COMMAND_H_
