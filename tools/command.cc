#include "tools/command.h"

#include <gflags/gflags.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace syncstream::tools {
namespace {

std::vector<Command>& Registry() {
  static auto* commands = new std::vector<Command>();
  return *commands;
}

// "--keep-order" and "--keep_order" name one flag: gflags' own names use '_'.
std::string FlagName(absl::string_view spelled) {
  std::string name(spelled);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

}  // namespace

bool RegisterCommand(Command command) {
  Registry().push_back(std::move(command));
  return true;
}

const std::vector<Command>& Commands() { return Registry(); }

bool CommandTakesFlag(const Command& command, absl::string_view name) {
  const absl::string_view usage = command.usage;
  for (size_t at = usage.find('-'); at != absl::string_view::npos;
       at = usage.find('-', at + 1)) {
    if (at > 0 && (IsNameChar(usage[at - 1]))) continue;  // inside a word
    size_t start = at + 1;
    if (start < usage.size() && usage[start] == '-') ++start;
    size_t end = start;
    while (end < usage.size() && IsNameChar(usage[end])) ++end;
    if (end > start && FlagName(usage.substr(start, end - start)) ==
                           FlagName(name)) {
      return true;
    }
    at = end > at ? end - 1 : at;
  }
  return false;
}

bool ParseCommandFlags(const Command& command,
                       const std::vector<std::string>& args,
                       std::vector<std::string>* positional,
                       std::string* error) {
  positional->clear();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional->insert(positional->end(), args.begin() + i + 1, args.end());
      return true;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional->push_back(arg);
      continue;
    }
    absl::string_view spelled = arg;
    spelled.remove_prefix(absl::StartsWith(spelled, "--") ? 2 : 1);
    const size_t equals = spelled.find('=');
    std::string name = FlagName(spelled.substr(0, equals));
    std::optional<std::string> value;
    if (equals != absl::string_view::npos) {
      value = std::string(spelled.substr(equals + 1));
    }
    gflags::CommandLineFlagInfo info;
    bool known = gflags::GetCommandLineFlagInfo(name.c_str(), &info);
    if (!known && absl::StartsWith(name, "no") && !value.has_value() &&
        gflags::GetCommandLineFlagInfo(name.c_str() + 2, &info) &&
        info.type == "bool") {
      name = name.substr(2);
      value = "false";
      known = true;
    }
    if (!known || !CommandTakesFlag(command, name)) {
      *error = absl::StrCat("unknown flag ", arg.substr(0, arg.find('=')),
                            known ? " (not a flag of this command)" : "");
      return false;
    }
    if (!value.has_value()) {
      if (info.type == "bool") {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        *error = absl::StrCat("flag ", arg, " needs a value (", info.type,
                              ")");
        return false;
      }
    }
    if (gflags::SetCommandLineOption(name.c_str(), value->c_str()).empty()) {
      *error = absl::StrCat("bad value '", *value, "' for ",
                            arg.substr(0, arg.find('=')), " (", info.type,
                            " expected)");
      return false;
    }
  }
  return true;
}

std::vector<std::string> FlagsNoCommandTakes() {
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  std::vector<std::string> unused;
  for (const gflags::CommandLineFlagInfo& flag : flags) {
    bool defined_by_commands = false, taken = false;
    for (const Command& command : Commands()) {
      defined_by_commands |= flag.filename == command.flags_file;
      taken |= CommandTakesFlag(command, flag.name);
    }
    if (defined_by_commands && !taken) unused.push_back(flag.name);
  }
  return unused;
}

}  // namespace syncstream::tools
