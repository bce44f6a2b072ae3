// syncstream: inspect and drive syncstream buffers, queues and servers.
//
//   syncstream                      list the commands
//   syncstream WORDS... --help      one command's usage and flags
//   syncstream [WORDS...] --version the version (syncstream/version.h)
//   syncstream WORDS... [FLAGS] ARGS
#include <gflags/gflags.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/debugging/symbolize.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "syncstream/version.h"
#include "tools/command.h"
#include "tools/flag_help.h"

namespace syncstream::tools {
namespace {

// One line per command whose words start with `prefix`, sorted.
void PrintCommands(std::ostream& out, const std::string& prefix) {
  std::vector<const Command*> sorted;
  for (const Command& c : Commands()) {
    if (absl::StartsWith(c.words, prefix)) sorted.push_back(&c);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](auto* a, auto* b) { return a->words < b->words; });
  for (const Command* c : sorted) {
    out << "  " << c->words;
    if (c->words.size() < 18) out << std::string(18 - c->words.size(), ' ');
    out << "  " << c->summary << "\n";
  }
}

void PrintCommandList(std::ostream& out) {
  out << "usage: syncstream COMMAND [FLAGS] [ARGS]\n\ncommands:\n";
  PrintCommands(out, "");
  out << "\n'syncstream COMMAND --help' shows a command's flags.\n";
}

// The registered command whose words are the longest prefix of argv[1..].
const Command* FindCommand(int argc, char** argv, int* words_used) {
  const Command* best = nullptr;
  size_t best_words = 0;
  for (const Command& c : Commands()) {
    std::vector<std::string> words = absl::StrSplit(c.words, ' ');
    if (words.size() > static_cast<size_t>(argc - 1)) continue;
    bool match = true;
    for (size_t i = 0; i < words.size() && match; ++i) {
      match = words[i] == argv[1 + i];
    }
    if (match && words.size() > best_words) {
      best = &c;
      best_words = words.size();
    }
  }
  *words_used = static_cast<int>(best_words);
  return best;
}

// The words of argv[1..] that begin some command's words ("queue" of
// "queue ls"): the group the user named, or empty.
std::vector<std::string> GroupWords(int argc, char** argv) {
  std::vector<std::string> group;
  for (int i = 1; i < argc && argv[i][0] != '-'; ++i) {
    std::string prefix = absl::StrJoin(group, " ");
    absl::StrAppend(&prefix, group.empty() ? "" : " ", argv[i], " ");
    bool begins = false;
    for (const Command& c : Commands()) {
      begins |= absl::StartsWith(c.words + " ", prefix) &&
                c.words.size() + 1 > prefix.size();
    }
    if (!begins) break;
    group.push_back(argv[i]);
  }
  return group;
}

void PrintGroup(std::ostream& out, const std::string& group) {
  out << "usage: syncstream " << group << " COMMAND [FLAGS] [ARGS]\n\n"
      << "commands:\n";
  PrintCommands(out, group + " ");
  out << "\n'syncstream " << group
      << " COMMAND --help' shows a command's flags.\n";
}

void PrintHelp(const Command& command) {
  std::cout << "usage: syncstream " << command.words << " " << command.usage
            << "\n\n"
            << command.summary << "\n";
  PrintFlags(std::cout, [&command](const gflags::CommandLineFlagInfo& flag) {
    return !IsGflagsOwnFlag(flag) && CommandTakesFlag(command, flag.name);
  });
  std::cout << "\nexit status:\n"
            << (command.exit_statuses.empty()
                    ? "  0 success, 1 failure (the reason on stderr), 2 usage "
                      "error (a bad flag, value or argument)\n"
                    : command.exit_statuses);
}

// Whether the arguments before a "--" ask for the version (--version).
bool WantsVersion(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) return false;
    if (std::strcmp(argv[i], "--version") == 0 ||
        std::strcmp(argv[i], "-version") == 0) {
      return true;
    }
  }
  return false;
}

int Main(int argc, char** argv) {
  absl::InitializeSymbolizer(argv[0]);
  int words_used = 0;
  const Command* command = FindCommand(argc, argv, &words_used);
  // `syncstream --version`, `syncstream COMMAND --version` or `syncstream
  // GROUP --version`; an unknown command stays an error below.
  if (WantsVersion(argc, argv) &&
      (command != nullptr || argv[1][0] == '-' ||
       !GroupWords(argc, argv).empty())) {
    std::cout << "syncstream " << SYNCSTREAM_VERSION_STRING << "\n";
    return 0;
  }
  if (command == nullptr) {
    const bool asked = argc < 2 || WantsHelp(argc, argv);
    const std::vector<std::string> group = GroupWords(argc, argv);
    const int group_end = 1 + static_cast<int>(group.size());
    if (!group.empty()) {
      const std::string words = absl::StrJoin(group, " ");
      if (group_end == argc || asked) {  // "syncstream queue": its commands
        PrintGroup(std::cout, words);
        return 0;
      }
      std::cerr << "syncstream: unknown command '" << words << " "
                << argv[group_end] << "'\n\n";
      PrintGroup(std::cerr, words);
      return kUsageError;
    }
    if (!asked) std::cerr << "syncstream: unknown command '" << argv[1] << "'\n\n";
    PrintCommandList(asked ? std::cout : std::cerr);
    return asked ? 0 : kUsageError;
  }
  if (WantsHelp(argc, argv)) {
    PrintHelp(*command);
    return 0;
  }
  std::vector<std::string> args(argv + 1 + words_used, argv + argc);
  std::vector<std::string> positional;
  std::string error;
  if (!ParseCommandFlags(*command, args, &positional, &error)) {
    std::cerr << "syncstream " << command->words << ": " << error
              << "\nusage: syncstream " << command->words << " "
              << command->usage << "\n('syncstream " << command->words
              << " --help' lists its flags)\n";
    return kUsageError;
  }
  return command->run(positional);
}

}  // namespace
}  // namespace syncstream::tools

int main(int argc, char** argv) { return syncstream::tools::Main(argc, argv); }
