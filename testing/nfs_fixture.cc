#include "testing/nfs_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "syncstream/core/deadline.h"

extern char** environ;

namespace syncstream::testing {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;

bool OnPath(const char* program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate =
        absl::StrCat(dirs.substr(start, end - start), "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// Runs argv to completion within `timeout`: OK if it exits 0.
absl::Status Run(const std::vector<std::string>& argv, absl::Duration timeout) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int err = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (err != 0) {
    return absl::InternalError(
        absl::StrCat("spawn ", argv[0], ": ", std::strerror(err)));
  }
  const absl::Time deadline = ::syncstream::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
      return absl::InternalError(absl::StrCat(argv[0], " ", argv.back(),
                                              " failed, wait status ", status));
    }
    if (::syncstream::Now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return absl::DeadlineExceededError(
          absl::StrCat(argv[0], " did not finish in ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

bool IsFuseMount(const std::string& dir) {
  struct statfs fs;
  return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type == kFuseSuperMagic;
}

}  // namespace

absl::string_view SharedDiskModeName(SharedDiskMode mode) {
  return mode == SharedDiskMode::kCoherent ? "coherent" : "misbehaving";
}

std::string SharedDiskFixture::UnavailableReason() {
  int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return absl::StrCat("FUSE unavailable: cannot open /dev/fuse (",
                        std::strerror(errno), ")");
  }
  ::close(fd);
  if (!OnPath("bindfs")) return "bindfs not installed (run through ./bazelw)";
  if (!OnPath("fusermount3")) return "fusermount3 not installed (fuse3)";
  return "";
}

SharedDiskFixture::SharedDiskFixture(SharedDiskMode mode, std::string root)
    : mode_(mode), root_(std::move(root)), real_(root_ + "/real") {}

absl::StatusOr<std::unique_ptr<SharedDiskFixture>> SharedDiskFixture::Create(
    SharedDiskMode mode, int hosts, absl::Duration timeout) {
  std::string reason = UnavailableReason();
  if (!reason.empty()) return absl::UnavailableError(reason);
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::random_device random;
  std::string root = absl::StrFormat("%s/nfs-%d-%08x", tmp ? tmp : "/tmp",
                                     ::getpid(), random());
  std::unique_ptr<SharedDiskFixture> fixture(
      new SharedDiskFixture(mode, root));
  std::error_code ec;
  std::filesystem::create_directories(fixture->real_, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("nfs fixture: mkdir ", fixture->real_, ": ", ec.message()));
  }
  for (int i = 0; i < hosts; ++i) {
    std::string view = absl::StrCat(root, "/host", i);
    std::filesystem::create_directories(view, ec);
    std::vector<std::string> argv = {"bindfs"};
    if (mode == SharedDiskMode::kCoherent) {
      argv.insert(argv.end(),
                  {"--multithreaded", "--enable-lock-forwarding", "-o",
                   "attr_timeout=0,entry_timeout=0,negative_timeout=0"});
    }
    argv.push_back(fixture->real_);
    argv.push_back(view);
    absl::Status mounted = Run(argv, timeout);
    if (!mounted.ok()) return mounted;
    const absl::Time deadline = ::syncstream::Now() + timeout;
    while (!IsFuseMount(view)) {
      if (::syncstream::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("nfs fixture: ", view, " not mounted in time"));
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    fixture->views_.push_back(view);
  }
  return fixture;
}

SharedDiskFixture::~SharedDiskFixture() {
  for (const std::string& view : views_) {
    const absl::Time deadline = ::syncstream::Now() + absl::Seconds(5);
    while (IsFuseMount(view)) {
      if (Run({"fusermount3", "-u", view}, absl::Seconds(5)).ok()) break;
      if (::syncstream::Now() >= deadline) {
        Run({"fusermount3", "-u", "-z", view}, absl::Seconds(5)).IgnoreError();
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

}  // namespace syncstream::testing
