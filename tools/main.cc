// syncstream: inspect and drive syncstream buffers, queues and servers.
//
//   syncstream                      list the commands
//   syncstream WORDS... --help      one command's usage and flags
//   syncstream WORDS... [FLAGS] ARGS
#include <gflags/gflags.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/debugging/symbolize.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/str_split.h"
#include "tools/command.h"
#include "tools/flag_help.h"

namespace syncstream::tools {
namespace {

void PrintCommandList(std::ostream& out) {
  out << "usage: syncstream COMMAND [FLAGS] [ARGS]\n\ncommands:\n";
  std::vector<const Command*> sorted;
  for (const Command& c : Commands()) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* a, auto* b) { return a->words < b->words; });
  for (const Command* c : sorted) {
    out << "  " << c->words;
    if (c->words.size() < 18) out << std::string(18 - c->words.size(), ' ');
    out << "  " << c->summary << "\n";
  }
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

// Whether `usage` names flag `name` as "--name" or "-name" (a shared flag
// from tools/common_flags.h that this command takes).
bool UsageNamesFlag(absl::string_view usage, absl::string_view name) {
  for (absl::string_view dashes : {"--", "-"}) {
    std::string spelled = absl::StrCat(dashes, name);
    for (size_t at = usage.find(spelled); at != absl::string_view::npos;
         at = usage.find(spelled, at + 1)) {
      bool starts = at == 0 || usage[at - 1] == ' ' || usage[at - 1] == '[' ||
                    usage[at - 1] == '(';
      size_t end = at + spelled.size();
      bool ends = end == usage.size() ||
                  !(std::isalnum(static_cast<unsigned char>(usage[end])) ||
                    usage[end] == '_' || usage[end] == '-');
      if (starts && ends) return true;
    }
  }
  return false;
}

int Main(int argc, char** argv) {
  absl::InitializeSymbolizer(argv[0]);
  int words_used = 0;
  const Command* command = FindCommand(argc, argv, &words_used);
  if (command == nullptr) {
    bool asked = argc < 2 || WantsHelp(argc, argv);
    if (!asked) std::cerr << "syncstream: unknown command '" << argv[1] << "'\n\n";
    PrintCommandList(asked ? std::cout : std::cerr);
    return asked ? 0 : 2;
  }
  std::string program = "syncstream " + command->words;
  if (WantsHelp(argc, argv)) {
    std::cout << "usage: " << program << " " << command->usage << "\n\n"
              << command->summary << "\n";
    PrintFlags(std::cout, [command](const gflags::CommandLineFlagInfo& flag) {
      return flag.filename == command->flags_file ||
             UsageNamesFlag(command->usage, flag.name);
    });
    return 0;
  }
  // Hand gflags the command's own arguments, with the words folded into argv0.
  std::vector<char*> args;
  args.push_back(program.data());
  for (int i = 1 + words_used; i < argc; ++i) args.push_back(argv[i]);
  int count = static_cast<int>(args.size());
  char** data = args.data();
  gflags::SetUsageMessage(command->usage);
  gflags::ParseCommandLineNonHelpFlags(&count, &data, /*remove_flags=*/true);
  std::vector<std::string> positional(data + 1, data + count);
  return command->run(positional);
}

}  // namespace
}  // namespace syncstream::tools

int main(int argc, char** argv) { return syncstream::tools::Main(argc, argv); }
