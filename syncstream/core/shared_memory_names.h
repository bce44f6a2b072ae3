// The POSIX shared-memory objects of this machine (/dev/shm), by name: how
// `syncstream queue ls` finds queues and the control blocks of
// LineProcBuffers, and how `queue rm` removes them.
#ifndef SYNCSTREAM_CORE_SHARED_MEMORY_NAMES_H_
#define SYNCSTREAM_CORE_SHARED_MEMORY_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncstream {

// The names in /dev/shm that start with `prefix` and are longer than it,
// with the prefix taken off, sorted. Unavailable when /dev/shm cannot be
// read.
absl::StatusOr<std::vector<std::string>> SharedMemoryNames(absl::string_view prefix);

// Unlinks the object `shm_name` ("/NAME"). On failure the message is
// `what`, ": " and the system's reason: NotFound when there is no such
// object, PermissionDenied otherwise.
absl::Status RemoveSharedMemory(const std::string& shm_name, absl::string_view what);

// OK when the shared-memory object open on `fd` belongs to this process's
// effective user and neither group nor others may write it. Otherwise
// PermissionDenied, the message naming `what`, the owner's uid and the
// mode: whoever can write such an object can read and forge what passes
// through it (another local user may have created the name first to do
// so). Unavailable when fstat fails.
absl::Status CheckSharedMemoryIsPrivate(int fd, absl::string_view what);

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_SHARED_MEMORY_NAMES_H_
