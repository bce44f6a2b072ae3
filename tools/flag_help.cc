#include "tools/flag_help.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace syncstream::tools {

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) return false;
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      return true;
    }
  }
  return false;
}

bool IsGflagsOwnFlag(const gflags::CommandLineFlagInfo& flag) {
  // gflags' sources are src/gflags.cc, src/gflags_reporting.cc and
  // src/gflags_completions.cc, wherever the library was built.
  const std::string& file = flag.filename;
  const size_t slash = file.rfind('/');
  const absl::string_view base =
      slash == std::string::npos ? absl::string_view(file)
                                 : absl::string_view(file).substr(slash + 1);
  return absl::StartsWith(base, "gflags");
}

void PrintFlags(
    std::ostream& out,
    const std::function<bool(const gflags::CommandLineFlagInfo&)>& shown) {
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);  // sorted by name
  bool any = false;
  for (const gflags::CommandLineFlagInfo& flag : flags) {
    if (!shown(flag)) continue;
    if (!any) out << "\nflags:\n";
    any = true;
    const char* quote = flag.type == "string" ? "\"" : "";
    out << "  --" << flag.name << " (" << flag.description
        << ")\n      type: " << flag.type << "  default: " << quote
        << flag.default_value << quote << "\n";
  }
}

void ParseFlagsOrShowHelp(absl::string_view usage, int* argc, char*** argv) {
  if (WantsHelp(*argc, *argv)) {
    std::cout << usage;
    if (!absl::EndsWith(usage, "\n")) std::cout << "\n";
    PrintFlags(std::cout, [](const gflags::CommandLineFlagInfo& flag) {
      return !IsGflagsOwnFlag(flag);
    });
    std::cout.flush();
    std::exit(0);
  }
  gflags::SetUsageMessage(std::string(usage));
  gflags::ParseCommandLineNonHelpFlags(argc, argv, /*remove_flags=*/true);
}

}  // namespace syncstream::tools
