// ProcessIdentity: a process named so that a reused pid is not mistaken for
// the same process — its pid plus its start time (field 22 of
// /proc/<pid>/stat, clock ticks since boot).
#ifndef SYNCSTREAM_CORE_PROCESS_IDENTITY_H_
#define SYNCSTREAM_CORE_PROCESS_IDENTITY_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace syncstream {

struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// The identity of process `pid`; NotFound if it does not exist.
absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid);

// This process's identity (cached; refreshed in a forked child).
ProcessIdentity CurrentProcess();

// This process's pid without a system call (cached; refreshed after fork).
pid_t CachedPid();

// True unless the process is known to be gone: it does not exist, it is a
// zombie, or its pid now belongs to a process started at another time.
// pid <= 0 is never alive.
bool IsProcessAlive(const ProcessIdentity& process);

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_PROCESS_IDENTITY_H_
