// //testing/bench:file — LineFileBuffer throughput with 4 writer processes,
// beside a same-run baseline: each line appended on its own under an fcntl
// lock (lock, O_APPEND write, unlock), as a lock-per-line design does.
//
// Runs on a local directory, then across bindfs views of one directory
// (one view per writer host, 2 views; coherent and misbehaving mounts).
// Note that the baseline is not even correct on the misbehaving mount (its
// fcntl locks are not shared between views); it is timed anyway.
//
//   ./bazelw run -c opt //testing/bench:file -- [--lines_per_writer=N]
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "syncstream/file/line_file_buffer.h"
#include "testing/nfs_fixture.h"
#include "syncstream/core/deadline.h"
#include "tools/flag_help.h"

DEFINE_int32(writers, 4, "writer processes");
DEFINE_int32(lines_per_writer, 250000, "lines each writer writes");
DEFINE_int32(baseline_lines_per_writer, 50000,
             "lines each baseline writer writes (it is slower)");

namespace syncstream::bench {
namespace {

using testing::SharedDiskFixture;
using testing::SharedDiskMode;

// Runs `body(w)` in `writers` forked processes started together; returns the
// wall time from the start signal until all exited, or a negative duration
// if one failed.
absl::Duration RunWriters(int writers, const std::function<int(int)>& body) {
  int go[2];
  if (::pipe(go) != 0) return -absl::Seconds(1);
  std::vector<pid_t> pids;
  std::fflush(nullptr);
  for (int w = 0; w < writers; ++w) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(go[1]);
      char c;
      if (::read(go[0], &c, 1) != 1) ::_exit(9);
      ::_exit(body(w));
    }
    pids.push_back(pid);
  }
  ::close(go[0]);
  const absl::Time start = ::syncstream::Now();
  std::string bytes(writers, 'g');
  if (::write(go[1], bytes.data(), bytes.size()) != writers) return -absl::Seconds(1);
  ::close(go[1]);
  bool ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const absl::Duration elapsed = ::syncstream::Now() - start;
  return ok ? elapsed : -absl::Seconds(1);
}

std::string Line(int w, int i) {
  return absl::StrCat("writer ", w, " line ", i, ": the quick brown fox\n");
}

int WriteWithBuffer(const std::string& dir, int w, int lines) {
  file::LineFileBufferOptions options;
  options.maxlen = 100000;
  options.host_id = absl::StrCat("bench-host", w);
  options.writer.name = absl::StrCat("w", w);
  auto buffer = file::LineFileBuffer::Open(dir, options);
  if (!buffer.ok()) return 2;
  for (int i = 0; i < lines; ++i) {
    if (!(*buffer)->Write(Line(w, i)).ok()) return 3;
  }
  return (*buffer)->Commit().ok() ? 0 : 4;
}

int WriteWithFcntl(const std::string& file, int lines, int w) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return 2;
  struct flock lock = {};
  lock.l_whence = SEEK_SET;
  for (int i = 0; i < lines; ++i) {
    std::string line = Line(w, i);
    lock.l_type = F_WRLCK;
    if (::fcntl(fd, F_SETLKW, &lock) != 0) return 3;
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return 4;
    }
    lock.l_type = F_UNLCK;
    if (::fcntl(fd, F_SETLK, &lock) != 0) return 5;
  }
  ::close(fd);
  return 0;
}

void Measure(const std::string& where, const std::vector<std::string>& views) {
  const int writers = FLAGS_writers;
  const std::string dir_suffix = "/buf";
  absl::Duration ours = RunWriters(writers, [&](int w) {
    return WriteWithBuffer(views[w % views.size()] + dir_suffix, w,
                           FLAGS_lines_per_writer);
  });
  absl::Duration base = RunWriters(writers, [&](int w) {
    return WriteWithFcntl(views[w % views.size()] + "/baseline.log",
                          FLAGS_baseline_lines_per_writer, w);
  });
  if (ours < absl::ZeroDuration() || base < absl::ZeroDuration()) {
    std::printf("%-28s FAILED (a writer exited with an error)\n", where.c_str());
    return;
  }
  const double ours_rate =
      writers * static_cast<double>(FLAGS_lines_per_writer) / absl::ToDoubleSeconds(ours);
  const double base_rate = writers * static_cast<double>(FLAGS_baseline_lines_per_writer) /
                           absl::ToDoubleSeconds(base);
  std::printf("%-28s LineFileBuffer %10.0f lines/s   fcntl+O_APPEND per line %10.0f lines/s   ratio %5.1fx\n",
              where.c_str(), ours_rate, base_rate, ours_rate / base_rate);
  std::fflush(stdout);
}

int Main() {
  std::printf("%d writer processes; %d lines each (baseline %d each)\n",
              FLAGS_writers, FLAGS_lines_per_writer,
              FLAGS_baseline_lines_per_writer);
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string local = absl::StrFormat("%s/file-bench-%d", tmp ? tmp : "/tmp",
                                      ::getpid());
  std::filesystem::create_directories(local);
  Measure("local disk", {local});
  std::filesystem::remove_all(local);

  std::string reason = SharedDiskFixture::UnavailableReason();
  if (!reason.empty()) {
    std::printf("bindfs: skipped (%s)\n", reason.c_str());
    return 0;
  }
  for (SharedDiskMode mode :
       {SharedDiskMode::kCoherent, SharedDiskMode::kMisbehaving}) {
    auto fixture = SharedDiskFixture::Create(mode, 2);
    if (!fixture.ok()) {
      std::printf("bindfs: %s\n", fixture.status().ToString().c_str());
      return 1;
    }
    Measure(absl::StrCat("2 bindfs views, ", testing::SharedDiskModeName(mode)),
            {(*fixture)->host_dir(0), (*fixture)->host_dir(1)});
  }
  return 0;
}

}  // namespace
}  // namespace syncstream::bench

int main(int argc, char** argv) {
  syncstream::tools::ParseFlagsOrShowHelp(
      "file: LineFileBuffer throughput with 4 writer processes (local directory, then two bindfs views: coherent and misbehaving), beside a same-run baseline of one fcntl-locked O_APPEND write per line.\n\nusage: file [flags]",
      &argc, &argv);
  return syncstream::bench::Main();
}
