#include "syncstream/core/process_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream {
namespace {

struct StatFields {
  char state = '?';
  uint64_t start_time = 0;
};

// Reads state (field 3) and starttime (field 22) of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and ')', so fields are counted
// from the last ')'.
absl::StatusOr<StatFields> ReadStat(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return absl::NotFoundError(absl::StrCat("process ", pid, ": ", strerror(errno)));
  }
  char buffer[1024];
  ssize_t n;
  do {
    n = ::read(fd.get(), buffer, sizeof(buffer) - 1);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return absl::NotFoundError(absl::StrCat("process ", pid, ": empty stat"));
  absl::string_view text(buffer, static_cast<size_t>(n));
  size_t close = text.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InternalError(absl::StrCat("process ", pid, ": malformed stat"));
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); field 22 is fields[19].
  StatFields out;
  if (fields.size() < 20 || fields[0].empty() ||
      !absl::SimpleAtoi(fields[19], &out.start_time)) {
    return absl::InternalError(absl::StrCat("process ", pid, ": malformed stat"));
  }
  out.state = fields[0][0];
  return out;
}

std::atomic<pid_t> cached_pid{0};
std::atomic<uint64_t> cached_start_time{0};

void ResetCacheInChild() {
  cached_pid.store(0, std::memory_order_relaxed);
  cached_start_time.store(0, std::memory_order_relaxed);
}

void RegisterForkHandler() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, &ResetCacheInChild);
    return true;
  }();
  (void)registered;
}

}  // namespace

absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid) {
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("bad pid ", pid));
  absl::StatusOr<StatFields> stat = ReadStat(pid);
  if (!stat.ok()) return stat.status();
  return ProcessIdentity{pid, stat->start_time};
}

pid_t CachedPid() {
  pid_t pid = cached_pid.load(std::memory_order_relaxed);
  if (pid != 0) return pid;
  RegisterForkHandler();
  pid = ::getpid();
  cached_pid.store(pid, std::memory_order_relaxed);
  return pid;
}

ProcessIdentity CurrentProcess() {
  pid_t pid = CachedPid();
  uint64_t start = cached_start_time.load(std::memory_order_relaxed);
  if (start == 0) {
    absl::StatusOr<ProcessIdentity> self = IdentifyProcess(pid);
    start = self.ok() ? self->start_time : 0;
    cached_start_time.store(start, std::memory_order_relaxed);
  }
  return ProcessIdentity{pid, start};
}

bool IsProcessAlive(const ProcessIdentity& process) {
  if (process.pid <= 0) return false;
  if (::kill(process.pid, 0) != 0 && errno == ESRCH) return false;
  absl::StatusOr<StatFields> stat = ReadStat(process.pid);
  if (!stat.ok()) return !absl::IsNotFound(stat.status());
  if (stat->state == 'Z' || stat->state == 'X' || stat->state == 'x') return false;
  return stat->start_time == process.start_time;
}

}  // namespace syncstream
