// The stress harness: `./bazelw run -c opt //testing:stress`.
//
// Runs every registered sharing kind (kind.h) in every spawn mode it
// supports, verifies what was collected (line_check.h), prints a table per
// kind and mode, and exits non-zero on any violation. See README.md,
// "The stress harness".
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gflags/gflags.h"
#include "testing/stress/harness.h"
#include "testing/stress/kind.h"
#include "testing/stress/line_check.h"
#include "testing/stress/report.h"
#include "tools/flag_help.h"
#include "testing/stress/worker.h"

DEFINE_string(kinds, "",
              "Comma-separated sharing kinds to stress (default: every "
              "registered kind; see the list above).");
DEFINE_string(modes, "threads,fork,exec",
              "Comma-separated spawn modes: threads (workers are threads of "
              "this process), fork (forked children run the worker function), "
              "exec (this binary re-executed with --worker via posix_spawn). "
              "Each kind runs in the modes it supports.");
DEFINE_int32(workers, 4, "Workers per run (threads or processes).");
DEFINE_uint64(lines_per_worker, 20000,
              "Lines each worker writes (0: until --duration ends).");
DEFINE_uint64(line_length, 100,
              "Bytes per line without the newline (at least the header: "
              "about 30 bytes plus the kind name).");
DEFINE_string(duration, "0s",
              "Time cap per run, e.g. 10s or 2m: workers stop writing when it "
              "ends (0s: no cap; required when --lines_per_worker=0).");
DEFINE_double(kill_rate, 0,
              "Probability (0-1) that a worker process is chosen to be "
              "SIGKILLed, in fork/exec runs of kinds that support kills. A "
              "chosen worker writes until the kill, sent once it wrote a "
              "random number (1..lines_per_worker-1) of lines. Lines it "
              "committed must still all arrive.");
DEFINE_uint64(seed, 0,
              "Seed for payloads and kills (0: pick one at random; the seed "
              "used is printed so a run can be repeated).");
DEFINE_string(json, "",
              "Also write the report as JSON to this file ('-' for stdout, "
              "which moves the table to stderr).");
DEFINE_uint64(buffer_lines, 1 << 20,
              "Most lines a collector buffer keeps (a bounded run uses "
              "min(all its lines, this)); the harness follows the buffer, so "
              "this only has to cover how far the checker may lag.");
DEFINE_string(timeout, "5m",
              "Each run (workers plus drain) must end within this, or it "
              "fails and its workers are killed.");
DEFINE_string(progress, "auto",
              "Live progress line on stderr: auto (only on a terminal), "
              "always, never.");
DEFINE_string(inject_fault, "none",
              "Harness self-test: damage the 11th received line of each run "
              "(lose, duplicate, garble, glue, reorder) to show the checks "
              "fire; the run must then fail.");

namespace syncstream::stress {
namespace {

std::string SelfExe() {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(path, n);
}

// Where run scratch directories go: $TEST_TMPDIR or $TMPDIR, unless that is
// too long for the Unix socket paths kinds create there (a socket path holds
// at most 107 bytes, and Bazel's $TEST_TMPDIR alone is often over 100).
std::string ScratchRoot() {
  constexpr size_t kMaxRootLength = 48;
  for (const char* name : {"TEST_TMPDIR", "TMPDIR"}) {
    const char* value = getenv(name);
    if (value != nullptr && *value != '\0' &&
        strlen(value) <= kMaxRootLength) {
      return value;
    }
  }
  return "/tmp";
}

// `bazel run` starts us in the runfiles tree; relative output paths are
// meant relative to where the user typed the command.
std::string UserPath(const std::string& path) {
  const char* dir = getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || dir == nullptr) return path;
  return absl::StrCat(dir, "/", path);
}

std::string Count(uint64_t n) {
  if (n >= 1000000) return absl::StrFormat("%.2fM", n / 1e6);
  if (n >= 1000) return absl::StrFormat("%.1fk", n / 1e3);
  return absl::StrCat(n);
}

int Usage(const std::string& message) {
  fprintf(stderr, "stress: %s (see --help)\n", message.c_str());
  return 2;
}

int Main(int argc, char** argv) {
  std::string kinds_help = "Registered kinds:\n";
  for (Kind* kind : RegisteredKinds()) {
    std::vector<std::string> modes;
    for (SpawnMode m :
         {SpawnMode::kThreads, SpawnMode::kFork, SpawnMode::kExec}) {
      if (kind->Supports(m)) modes.emplace_back(SpawnModeName(m));
    }
    absl::StrAppend(&kinds_help, "  ", kind->name(), " (",
                    absl::StrJoin(modes, ", "),
                    kind->SupportsKill() ? "; kills" : "", "): ",
                    kind->description(), "\n");
  }
  tools::ParseFlagsOrShowHelp(
      absl::StrCat("stress every syncstream sharing kind and verify that no "
                   "line is lost, duplicated, garbled, glued or reordered.\n\n"
                   "Usage: stress [flags]\n\n",
                   kinds_help),
      &argc, &argv);
  if (argc > 1) return Usage(absl::StrCat("unexpected argument '", argv[1], "'"));

  std::vector<Kind*> kinds;
  if (FLAGS_kinds.empty()) {
    kinds = RegisteredKinds();
  } else {
    for (absl::string_view name :
         absl::StrSplit(FLAGS_kinds, ',', absl::SkipEmpty())) {
      Kind* kind = FindKind(name);
      if (kind == nullptr) return Usage(absl::StrCat("no kind '", name, "'"));
      kinds.push_back(kind);
    }
  }
  std::vector<SpawnMode> modes;
  for (absl::string_view name :
       absl::StrSplit(FLAGS_modes, ',', absl::SkipEmpty())) {
    absl::StatusOr<SpawnMode> mode = ParseSpawnMode(name);
    if (!mode.ok()) return Usage(std::string(mode.status().message()));
    modes.push_back(*mode);
  }
  absl::Duration duration, timeout;
  if (!absl::ParseDuration(FLAGS_duration, &duration) ||
      duration < absl::ZeroDuration()) {
    return Usage(absl::StrCat("bad --duration '", FLAGS_duration, "'"));
  }
  if (!absl::ParseDuration(FLAGS_timeout, &timeout) ||
      timeout <= absl::ZeroDuration()) {
    return Usage(absl::StrCat("bad --timeout '", FLAGS_timeout, "'"));
  }
  absl::StatusOr<Fault> fault = ParseFault(FLAGS_inject_fault);
  if (!fault.ok()) return Usage(std::string(fault.status().message()));
  if (FLAGS_workers < 1 || FLAGS_workers > 4096) {
    return Usage("--workers must be 1..4096");
  }
  if (FLAGS_lines_per_worker == 0 && duration == absl::ZeroDuration()) {
    return Usage("--lines_per_worker=0 needs a --duration");
  }
  if (FLAGS_kill_rate < 0 || FLAGS_kill_rate > 1) {
    return Usage("--kill_rate must be between 0 and 1");
  }
  if (FLAGS_progress != "auto" && FLAGS_progress != "always" &&
      FLAGS_progress != "never") {
    return Usage("--progress must be auto, always or never");
  }
  const uint64_t max_lines =
      FLAGS_lines_per_worker == 0 ? uint64_t{1} << 32 : FLAGS_lines_per_worker;
  for (Kind* kind : kinds) {
    const size_t min_length =
        MinLineLength(kind->name(), FLAGS_workers, max_lines);
    if (FLAGS_line_length < min_length || FLAGS_line_length > (1 << 20)) {
      return Usage(absl::StrCat("--line_length must be ", min_length,
                                "..1048576 for kind '", kind->name(), "'"));
    }
  }
  uint64_t seed = FLAGS_seed;
  while (seed == 0) seed = std::random_device()();

  const bool show_progress =
      FLAGS_progress == "always" || (FLAGS_progress == "auto" && isatty(2));
  auto progress = [&](const Progress& p) {
    if (!show_progress) return;
    const double seconds = absl::ToDoubleSeconds(p.elapsed);
    fprintf(stderr,
            "\r\033[K[%s/%s] %s lines written, %s received, %s lines/s, "
            "%.1fs, %d workers alive",
            std::string(p.kind).c_str(),
            std::string(SpawnModeName(p.mode)).c_str(),
            Count(p.written).c_str(), Count(p.received).c_str(),
            Count(seconds > 0 ? static_cast<uint64_t>(p.received / seconds)
                              : 0)
                .c_str(),
            seconds, p.alive);
    fflush(stderr);
  };

  FILE* table_out = FLAGS_json == "-" ? stderr : stdout;
  fprintf(table_out,
          "stress: seed %llu, %d workers x %llu lines of %llu bytes%s%s\n",
          static_cast<unsigned long long>(seed), FLAGS_workers,
          static_cast<unsigned long long>(FLAGS_lines_per_worker),
          static_cast<unsigned long long>(FLAGS_line_length),
          duration > absl::ZeroDuration()
              ? absl::StrCat(", at most ", absl::FormatDuration(duration))
                    .c_str()
              : "",
          FLAGS_kill_rate > 0
              ? absl::StrFormat(", kill rate %.2f", FLAGS_kill_rate).c_str()
              : "");
  fflush(table_out);

  std::vector<RunReport> reports;
  const std::string self_exe = SelfExe();
  for (Kind* kind : kinds) {
    for (SpawnMode mode : modes) {
      if (!kind->Supports(mode)) continue;
      RunOptions options;
      options.kind = kind;
      options.mode = mode;
      options.workers = FLAGS_workers;
      options.lines_per_worker = FLAGS_lines_per_worker;
      options.line_length = FLAGS_line_length;
      options.duration = duration;
      options.kill_rate = FLAGS_kill_rate;
      options.seed = seed;
      options.max_buffer_lines = FLAGS_buffer_lines;
      options.timeout = timeout;
      options.self_exe = self_exe;
      options.scratch_root = ScratchRoot();
      options.fault = *fault;
      reports.push_back(RunOne(options, progress));
      if (show_progress) fprintf(stderr, "\r\033[K");
    }
  }
  if (reports.empty()) {
    return Usage("no selected kind supports the selected modes");
  }

  fprintf(table_out, "%s", FormatTable(reports).c_str());
  bool ok = true;
  for (const RunReport& r : reports) ok = ok && r.ok();
  if (!FLAGS_json.empty()) {
    const std::string json = FormatJson(reports);
    if (FLAGS_json == "-") {
      fwrite(json.data(), 1, json.size(), stdout);
    } else {
      std::ofstream file(UserPath(FLAGS_json));
      file << json;
      if (!file.good()) {
        fprintf(stderr, "stress: cannot write --json file '%s'\n",
                FLAGS_json.c_str());
        return 1;
      }
    }
  }
  fprintf(table_out, "%s\n", ok ? "stress: all runs passed"
                                : "stress: VIOLATIONS (see above)");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace syncstream::stress

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], syncstream::stress::kWorkerFlag) == 0) {
    return syncstream::stress::ExecWorkerMain(argc, argv);
  }
  return syncstream::stress::Main(argc, argv);
}
