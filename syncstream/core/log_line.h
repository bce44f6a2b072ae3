// WriteLogLine: one whole line to a descriptor (stderr by default) in one
// write(2), so that lines that threads log at the same time are never glued
// together or split (std::cerr writes each << separately).
#ifndef SYNCSTREAM_CORE_LOG_LINE_H_
#define SYNCSTREAM_CORE_LOG_LINE_H_

#include <unistd.h>

#include "absl/strings/string_view.h"

namespace syncstream {

// Writes `prefix`, `message` and a line break as one write() (continued
// after a partial write or EINTR; errors are ignored: there is nowhere left
// to report them). Thread-safe.
void WriteLogLine(absl::string_view prefix, absl::string_view message,
                  int fd = STDERR_FILENO);

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_LOG_LINE_H_
