// POSIX plumbing shared by every module: errno as a Status, and whole reads
// and writes that retry short transfers and EINTR.
//
// Status codes follow absl::ErrnoToStatus (ENOENT: NotFound, EACCES:
// PermissionDenied, ENOSPC: ResourceExhausted, ...), so one errno gives
// one code in every module. Messages read "<what>: <operation>: <strerror>",
// where `what` names the object ("store '/var/log/x'", "fd 3").
//
// Thread safety: the functions are thread-safe; concurrent calls on one fd
// interleave as the system calls do.
#ifndef SYNCSTREAM_CORE_POSIX_IO_H_
#define SYNCSTREAM_CORE_POSIX_IO_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncstream {

// absl::ErrnoToStatus(error_number, "<what>: <operation>").
absl::Status ErrnoStatus(int error_number, absl::string_view what,
                         absl::string_view operation);

// Writes all of `data` to `fd` (write(2) at the file offset). On error the
// file may hold a prefix of `data`.
absl::Status WriteAll(int fd, absl::string_view data, absl::string_view what);

// Writes all of `data` to `fd` at `offset` (pwrite(2)); the file offset is
// unchanged.
absl::Status WriteAllAt(int fd, absl::string_view data, off_t offset,
                        absl::string_view what);

// Reads `fd` from its offset to end of file.
absl::StatusOr<std::string> ReadAll(int fd, absl::string_view what);

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_POSIX_IO_H_
