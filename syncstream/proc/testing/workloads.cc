#include "syncstream/proc/testing/workloads.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "syncstream/core/fd_capture.h"

namespace syncstream::proc_testing {

std::string NumberedLine(const std::string& prefix, uint64_t i) {
  return absl::StrFormat("%s %06d", prefix, i);
}

absl::Status WriteNumberedLines(LineProcMirror& mirror,
                                const std::string& prefix, uint64_t count) {
  std::string head = prefix + " ";
  for (uint64_t i = 0; i < count; ++i) {
    absl::Status status = mirror.Write(head);
    if (status.ok()) status = mirror.Write(absl::StrFormat("%06d\n", i));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void LinesWarningAndThrow(LineProcMirror& mirror, const std::string& name) {
  for (int i = 0; i < 10; ++i) mirror.stream() << name << " line " << i << "\n";
  mirror.SendWarning(name + " warns").IgnoreError();
  throw std::runtime_error(name + " fails");
}

void WriteThenDieMidLine(LineProcMirror& mirror, const std::string& prefix,
                         uint64_t lines) {
  WriteNumberedLines(mirror, prefix, lines).IgnoreError();
  mirror.Write(prefix + " partial").IgnoreError();
  mirror.Sync().IgnoreError();
  ::raise(SIGKILL);
}

int WriteUntilStopped(LineProcMirror& mirror, const std::string& prefix,
                      uint64_t max_lines) {
  for (uint64_t i = 0; i < max_lines; ++i) {
    absl::Status status = mirror.Write(prefix + " pending");
    if (status.ok()) status = mirror.Write(absl::StrFormat(" %06d\n", i));
    if (!status.ok()) {
      // The stop may hit either write; write the partial line again so the
      // last write is always the one after it.
      return absl::IsFailedPrecondition(status) ? 0 : 1;
    }
  }
  return 1;
}

void PrintThroughFdCapture(LineProcMirror& mirror) {
  absl::StatusOr<ScopedFdCapture> capture =
      ScopedFdCapture::Create(mirror, CaptureStreams::kStdoutAndStderr);
  if (!capture.ok()) throw std::runtime_error(capture.status().ToString());
  std::printf("from printf\n");
  std::fprintf(stderr, "to stderr ");
  std::fflush(nullptr);
  if (std::system("echo from a grandchild; printf 'end' >&2") != 0) {
    throw std::runtime_error("system() failed");
  }
}

}  // namespace syncstream::proc_testing
