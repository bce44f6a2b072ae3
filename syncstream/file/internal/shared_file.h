// Opening, reading and creating files in a directory on a shared disk.
//
// Anything there may have been planted by another user or host: a FIFO named
// like the next segment would block open(2) for reading or writing until a
// peer opens its other end, a symbolic link would make a writer write where
// it points. Every file of a buffer directory (segments, staging files, the
// lock and its helpers) is therefore opened with O_NONBLOCK and O_NOFOLLOW,
// checked to be a regular file, and refused with FailedPrecondition
// otherwise; callers skip what is refused and carry on with the rest.
#ifndef SYNCSTREAM_FILE_INTERNAL_SHARED_FILE_H_
#define SYNCSTREAM_FILE_INTERNAL_SHARED_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream::file::internal {

// strerror(err) as a std::string.
std::string ErrnoText(int err);

// Opens the existing regular file at `path` with `flags` (O_RDONLY, O_RDWR,
// ...; O_NONBLOCK, O_NOFOLLOW and O_CLOEXEC are added). Errors name the file
// as "`what` 'path'": NotFound if it does not exist, FailedPrecondition if it
// is not a regular file (a FIFO, a symbolic link, a directory, a device, a
// socket), PermissionDenied for EACCES, Internal otherwise. Never blocks on
// a FIFO.
absl::StatusOr<UniqueFd> OpenRegularFile(const std::string& path, int flags,
                                         absl::string_view what);

// The first `max_bytes` (or fewer, if the file is shorter) of the regular
// file at `path`; `max_bytes` = SIZE_MAX reads it whole. Errors as
// OpenRegularFile, Internal for a failed read.
absl::StatusOr<std::string> ReadRegularFile(const std::string& path,
                                            size_t max_bytes,
                                            absl::string_view what);

// Creates `path` (O_CREAT|O_EXCL, which never follows a link and never opens
// what exists) for reading and writing, with permission bits exactly `mode`
// (not reduced by the umask). AlreadyExists if the name exists (whatever it
// is), Internal or PermissionDenied otherwise.
absl::StatusOr<UniqueFd> CreateExclusive(const std::string& path, mode_t mode,
                                         absl::string_view what);

// "a FIFO", "a symbolic link", "a directory", ... for st_mode's file type.
std::string DescribeFileType(mode_t mode);

}  // namespace syncstream::file::internal

#endif  // SYNCSTREAM_FILE_INTERNAL_SHARED_FILE_H_
