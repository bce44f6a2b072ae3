#include "tools/testing/run_tool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace syncstream::tools::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string TempPath(const std::string& name) {
  static int counter = 0;
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name, ".", ::getpid(), ".",
                      counter++);
}

ToolOutcome RunTool(const std::vector<std::string>& argv,
                    const std::string& input, absl::Duration timeout) {
  const std::string in_path = TempPath("in"), out_path = TempPath("out"),
                    err_path = TempPath("err");
  std::ofstream(in_path) << input;
  int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0600);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0600);
  SpawnOptions options;
  options.argv = argv;
  options.stdin_from = FdRedirect::To(in);
  options.stdout_to = FdRedirect::To(out);
  options.stderr_to = FdRedirect::To(err);
  ToolOutcome outcome;
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(options);
  ::close(in);
  ::close(out);
  ::close(err);
  EXPECT_TRUE(child.ok()) << child.status();
  if (child.ok()) {
    absl::StatusOr<ExitStatus> status = child->Wait(timeout);
    EXPECT_TRUE(status.ok()) << status.status();
    if (status.ok()) outcome.status = *status;
  }
  outcome.out = ReadFile(out_path);
  outcome.err = ReadFile(err_path);
  for (const std::string& path : {in_path, out_path, err_path}) {
    ::unlink(path.c_str());
  }
  return outcome;
}

}  // namespace syncstream::tools::testing
