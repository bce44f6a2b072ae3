#include "tools/flag_help.h"

#include <gflags/gflags.h>

#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

DEFINE_int32(flag_help_test_count, 7, "How many things to count.");
DEFINE_string(flag_help_test_name, "alpha", "The name to use.");

namespace syncstream::tools {
namespace {

bool WantsHelpFor(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  return WantsHelp(static_cast<int>(argv.size()), argv.data());
}

TEST(FlagHelpTest, WantsHelpSpellingsBeforeDoubleDashOnly) {
  EXPECT_TRUE(WantsHelpFor({"prog", "--help"}));
  EXPECT_TRUE(WantsHelpFor({"prog", "x", "-help"}));
  EXPECT_TRUE(WantsHelpFor({"prog", "-h"}));
  EXPECT_FALSE(WantsHelpFor({"prog", "--kinds=thread"}));
  EXPECT_FALSE(WantsHelpFor({"prog", "--", "--help"}));
  EXPECT_FALSE(WantsHelpFor({"prog"}));
}

TEST(FlagHelpTest, ProgramFlagsShownWithTypeAndDefaultGflagsOwnHidden) {
  std::ostringstream out;
  PrintFlags(out, [](const gflags::CommandLineFlagInfo& flag) {
    return !IsGflagsOwnFlag(flag);
  });
  const std::string help = out.str();
  EXPECT_EQ(help.rfind("\nflags:\n", 0), 0u) << help;
  EXPECT_NE(help.find("  --flag_help_test_count (How many things to count.)\n"
                      "      type: int32  default: 7\n"),
            std::string::npos)
      << help;
  EXPECT_NE(help.find("  --flag_help_test_name (The name to use.)\n"
                      "      type: string  default: \"alpha\"\n"),
            std::string::npos)
      << help;
  // Sorted by name.
  EXPECT_LT(help.find("flag_help_test_count"),
            help.find("flag_help_test_name"));
  for (const char* own : {"--flagfile", "--helpxml", "--tab_completion_word",
                          "--fromenv"}) {
    EXPECT_EQ(help.find(own), std::string::npos) << own;
  }
}

TEST(FlagHelpTest, NothingPrintedWhenNoFlagIsShown) {
  std::ostringstream out;
  PrintFlags(out, [](const gflags::CommandLineFlagInfo&) { return false; });
  EXPECT_EQ(out.str(), "");
}

TEST(FlagHelpTest, ParsesFlagsAndLeavesPositionalArguments) {
  std::vector<std::string> args = {"prog", "--flag_help_test_count=3",
                                   "positional", "--flag_help_test_name",
                                   "beta"};
  std::vector<char*> pointers;
  for (std::string& arg : args) pointers.push_back(arg.data());
  int argc = static_cast<int>(pointers.size());
  char** argv = pointers.data();
  ParseFlagsOrShowHelp("usage: prog", &argc, &argv);
  EXPECT_EQ(FLAGS_flag_help_test_count, 3);
  EXPECT_EQ(FLAGS_flag_help_test_name, "beta");
  ASSERT_EQ(argc, 2);
  EXPECT_STREQ(argv[1], "positional");
}

}  // namespace
}  // namespace syncstream::tools
