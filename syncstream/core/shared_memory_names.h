// The POSIX shared-memory objects of this machine (/dev/shm), by name: how
// `syncstream queue ls` finds queues and the control blocks of
// LineProcBuffers.
#ifndef SYNCSTREAM_CORE_SHARED_MEMORY_NAMES_H_
#define SYNCSTREAM_CORE_SHARED_MEMORY_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncstream {

// The names in /dev/shm that start with `prefix` and are longer than it,
// with the prefix taken off, sorted. Unavailable when /dev/shm cannot be
// read.
absl::StatusOr<std::vector<std::string>> SharedMemoryNames(absl::string_view prefix);

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_SHARED_MEMORY_NAMES_H_
