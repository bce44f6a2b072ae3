// A program for the proc tests, started with exec: it re-opens a mirror from
// its token and runs one workload (testing/workloads.h) in it.
//
//   mirror_child TOKEN|-env lines COUNT PREFIX
//   mirror_child TOKEN|-env seed
//   mirror_child TOKEN|-env die-mid-line COUNT PREFIX
//   mirror_child TOKEN|-env fd-capture
// Exit status 0 on success, 2 on a usage error, 3 if the mirror cannot be
// attached or the workload failed.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "syncstream/proc/line_proc_mirror.h"
#include "syncstream/proc/testing/workloads.h"

int main(int argc, char** argv) {
  using namespace syncstream;
  if (argc < 3) {
    std::cerr << "usage: mirror_child TOKEN|-env MODE ARGS...\n";
    return 2;
  }
  std::string token = argv[1];
  auto mirror = token == "-env" ? LineProcMirror::FromEnvironment()
                                : LineProcMirror::Attach(token);
  if (!mirror.ok()) {
    std::cerr << "mirror_child: " << mirror.status() << "\n";
    return 3;
  }
  LineProcMirror& m = **mirror;
  std::string mode = argv[2];
  uint64_t count = 0;
  if ((mode == "lines" || mode == "die-mid-line") &&
      (argc != 5 || !absl::SimpleAtoi(argv[3], &count))) {
    std::cerr << "mirror_child: " << mode << " COUNT PREFIX\n";
    return 2;
  }
  absl::Status status;
  if (mode == "lines") {
    status = RunInMirror(m, [&] {
      absl::Status written =
          proc_testing::WriteNumberedLines(m, argv[4], count);
      if (!written.ok()) throw std::runtime_error(written.ToString());
    });
  } else if (mode == "seed") {
    status = RunInMirror(m, [&] { m.stream() << "Message item\n"; });
  } else if (mode == "fd-capture") {
    status = RunInMirror(m, [&] { proc_testing::PrintThroughFdCapture(m); });
  } else if (mode == "die-mid-line") {
    m.Open().IgnoreError();
    proc_testing::WriteThenDieMidLine(m, argv[4], count);
  } else {
    std::cerr << "mirror_child: unknown mode " << mode << "\n";
    return 2;
  }
  if (!status.ok()) {
    std::cerr << "mirror_child: " << status << "\n";
    return 3;
  }
  return 0;
}
