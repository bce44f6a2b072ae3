// `syncstream file ...`: look at and repair a LineFileBuffer directory on a
// shared disk.
//
//   syncstream file tail PATH [-n N] [-f]      last N lines (0: all); -f follows
//                                              (-n, -f: tools/common_flags.h)
//   syncstream file inspect PATH [--json]      segments, counts, damage, lock
//   syncstream file unlock PATH [--force]      remove a stale lock
//
// Exit status: 0; 1 when records were lost (damaged frames, unreadable
// segments, lines rotated away before `tail -f` read them: each is said on
// stderr) or on an error; 2 for a usage error.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "syncstream/file/line_file_buffer.h"
#include "syncstream/file/lock_file.h"
#include "tools/command.h"
#include "tools/common_flags.h"
#include "tools/record_output.h"
#include "syncstream/core/deadline.h"

DEFINE_double(file_follow_seconds, 0,
              "file tail -f: stop after this many seconds (0: until interrupted)");

namespace syncstream::tools {
namespace {

using file::LineFileBuffer;
using file::LockFile;
using file::LockState;

std::atomic<bool> interrupted{false};

bool CheckPath(const std::vector<std::string>& args, const char* usage) {
  if (args.size() != 1) {
    std::cerr << "usage: syncstream " << usage << "\n";
    return false;
  }
  struct stat st;
  if (::stat(args[0].c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::cerr << "syncstream: file buffer '" << TerminalSafe(args[0])
              << "': no such directory\n";
    return false;
  }
  return true;
}

// file tail's output (--format, filters ...), set up by RunTail.
std::optional<RecordPrinter> printer;

void PrintRecords(const std::vector<Record>& records) {
  for (const Record& r : records) printer->Print(r);
  printer->Flush();
}

// Says on stderr what `report` lost; true if it lost anything.
bool ReportLosses(const std::string& path, const file::ReadReport& report) {
  for (const auto& d : report.damages) {
    std::cerr << "syncstream: " << TerminalSafe(d.segment) << ": "
              << TerminalSafe(d.damage.cause)
              << " at offset " << d.damage.offset << " (skipped)\n";
  }
  for (const std::string& unreadable : report.unreadable_segments) {
    std::cerr << "syncstream: " << TerminalSafe(unreadable)
              << " (unreadable: its records are lost)\n";
  }
  if (report.rotated_away > 0) {
    std::cerr << "syncstream: file buffer '" << TerminalSafe(path) << "': "
              << report.rotated_away
              << " lines rotated away before they were read\n";
  }
  return !report.damages.empty() || !report.unreadable_segments.empty() ||
         report.rotated_away > 0;
}

int RunTail(const std::vector<std::string>& args) {
  if (!CheckPath(args, "file tail PATH [-n N] [-f]")) return 2;
  if (FLAGS_n < 0) {
    std::cerr << "syncstream file tail: -n must not be negative\n";
    return 2;
  }
  // A reader's maxlen caps what one read returns: the last N first, then
  // (following) everything the directory still holds, never a fixed cap.
  constexpr size_t kAll = std::numeric_limits<size_t>::max();
  absl::StatusOr<RecordOutputOptions> output =
      RecordOutputOptionsFromFlags(RecordFormat::kText);
  if (!output.ok()) {
    std::cerr << "syncstream file tail: " << output.status().message() << "\n";
    return 2;
  }
  printer.emplace(std::cout, *output);
  file::LineFileBufferOptions options;
  options.maxlen = FLAGS_n > 0 ? static_cast<size_t>(FLAGS_n) : kAll;
  auto last = LineFileBuffer::Open(args[0], options);
  options.maxlen = kAll;
  auto follower = LineFileBuffer::Open(args[0], options);
  if (!last.ok() || !follower.ok()) {
    std::cerr << "syncstream: "
              << TerminalSafe((last.ok() ? follower : last).status().message())
              << "\n";
    return 1;
  }
  uint64_t next = 0;
  file::ReadReport report;
  auto records = (*last)->ReadFrom(0, &next, &report);
  if (!records.ok()) {
    std::cerr << "syncstream: " << TerminalSafe(records.status().message())
              << "\n";
    return 1;
  }
  PrintRecords(*records);
  report.rotated_away = 0;  // older than the last N: not asked for
  bool lost = ReportLosses(args[0], report);
  if (!FLAGS_f) return lost ? 1 : 0;
  ::signal(SIGINT, [](int) { interrupted = true; });
  ::signal(SIGTERM, [](int) { interrupted = true; });
  const absl::Time stop = FLAGS_file_follow_seconds > 0
                              ? ::syncstream::Now() + absl::Seconds(FLAGS_file_follow_seconds)
                              : absl::InfiniteFuture();
  // One last read after the stop time, so that what was committed before it
  // is shown.
  while (true) {
    const bool last_round = interrupted || ::syncstream::Now() >= stop;
    if (!last_round) {
      absl::SleepFor(std::min(absl::Milliseconds(100),
                              stop - ::syncstream::Now()));
    }
    auto more = (*follower)->ReadFrom(next, &next, &report);
    if (!more.ok()) {
      std::cerr << "syncstream: " << TerminalSafe(more.status().message())
                << "\n";
      return 1;
    }
    // A gap first, then what follows it.
    lost = ReportLosses(args[0], report) || lost;
    PrintRecords(*more);
    if (last_round) break;
  }
  return lost ? 1 : 0;
}

int RunInspect(const std::vector<std::string>& args) {
  if (!CheckPath(args, "file inspect PATH [--json]")) return 2;
  const std::string& path = args[0];
  auto segments = LineFileBuffer::ListSegments(path, /*check_frames=*/true);
  if (!segments.ok()) {
    std::cerr << "syncstream: " << TerminalSafe(segments.status().message())
              << "\n";
    return 1;
  }
  LockState lock = LockFile::Inspect(LineFileBuffer::LockPath(path));
  uint64_t bytes = 0, records = 0, end = 0, clear = 0;
  bool damaged = false;
  for (const auto& s : *segments) {
    bytes += s.file_size;
    damaged = damaged || !s.problem.empty() || !s.damages.empty();
    if (!s.header_ok) continue;
    records += s.header.record_count;
    end = s.header.end_index();
    clear = s.header.clear_index;
  }
  if (FLAGS_json) {
    std::string out = absl::StrCat("{\"path\":", JsonString(path),
                                   ",\"segments\":[");
    for (size_t i = 0; i < segments->size(); ++i) {
      const auto& s = (*segments)[i];
      absl::StrAppend(&out, i ? "," : "", "{\"name\":", JsonString(s.name),
                      ",\"generation\":", s.generation,
                      ",\"bytes\":", s.file_size,
                      ",\"header_ok\":", s.header_ok ? "true" : "false");
      if (s.header_ok) {
        absl::StrAppend(&out, ",\"first_index\":", s.header.first_index,
                        ",\"records\":", s.header.record_count,
                        ",\"valid_records\":", s.valid_records,
                        ",\"clear_marker\":",
                        s.header.is_clear_marker() ? "true" : "false");
      }
      if (!s.problem.empty()) {
        absl::StrAppend(&out, ",\"problem\":", JsonString(s.problem));
      }
      absl::StrAppend(&out, ",\"damages\":[");
      for (size_t d = 0; d < s.damages.size(); ++d) {
        const file::SegmentDamage& damage = s.damages[d];
        absl::StrAppend(&out, d ? "," : "", "{\"offset\":", damage.offset,
                        ",\"length\":", damage.length, ",\"torn_tail\":",
                        damage.torn_tail ? "true" : "false",
                        ",\"cause\":", JsonString(damage.cause), "}");
      }
      out += "]";
      out += "}";
    }
    absl::StrAppend(&out, "],\"records_on_disk\":", records,
                    ",\"bytes\":", bytes, ",\"end_index\":", end,
                    ",\"clear_index\":", clear, ",\"lock\":");
    if (!lock.present) {
      out += "null";
    } else {
      absl::StrAppend(&out, "{\"readable\":", lock.readable ? "true" : "false",
                      ",\"stale\":", lock.stale ? "true" : "false",
                      ",\"stale_reason\":", JsonString(lock.stale_reason),
                      ",\"lease_age_seconds\":",
                      absl::ToDoubleSeconds(lock.heartbeat_age));
      if (lock.readable) {
        absl::StrAppend(&out, ",\"host\":", JsonString(lock.holder.host),
                        ",\"pid\":", lock.holder.pid,
                        ",\"boot_id\":", JsonString(lock.holder.boot_id),
                        ",\"nonce\":", JsonString(absl::StrFormat("%016x", lock.holder.nonce)),
                        ",\"generation\":", lock.holder.generation,
                        ",\"lease_seconds\":",
                        absl::ToDoubleSeconds(lock.holder.lease));
      } else {
        absl::StrAppend(&out, ",\"problem\":", JsonString(lock.problem));
      }
      out += "}";
    }
    std::cout << out << "}\n";
    return damaged ? 1 : 0;
  }
  std::cout << "file buffer " << TerminalSafe(path) << "\n"
            << "  segments: " << segments->size() << ", " << records
            << " records, " << bytes << " bytes; indexes [" << clear << ", "
            << end << ") since the last clear\n";
  for (const auto& s : *segments) {
    std::cout << "  " << TerminalSafe(s.name) << "  " << s.file_size
              << " bytes  ";
    if (!s.problem.empty()) {
      std::cout << "DAMAGED: " << TerminalSafe(s.problem) << "\n";
    } else if (s.header.is_clear_marker()) {
      std::cout << "clear marker at index " << s.header.first_index << "\n";
    } else {
      std::cout << s.header.record_count << " records from index "
                << s.header.first_index
                << (s.valid_records < s.header.record_count
                        ? absl::StrCat(", ", s.valid_records, " readable")
                        : "")
                << "\n";
    }
    for (const file::SegmentDamage& damage : s.damages) {
      std::cout << "    DAMAGED at offset " << damage.offset << ", "
                << damage.length << " bytes: " << TerminalSafe(damage.cause)
                << (damage.torn_tail ? " (torn tail)" : "") << "\n";
    }
  }
  if (!lock.present) {
    std::cout << "  lock: free\n";
  } else if (!lock.readable) {
    std::cout << "  lock: present, unreadable ("
              << TerminalSafe(lock.problem) << ")"
              << (lock.stale ? ", STALE: " + TerminalSafe(lock.stale_reason)
                             : "")
              << "\n";
  } else {
    std::cout << "  lock: held by " << TerminalSafe(lock.holder.host)
              << " pid " << lock.holder.pid << " (boot "
              << TerminalSafe(lock.holder.boot_id)
              << "), generation " << lock.holder.generation
              << ", heartbeat " << absl::FormatDuration(lock.heartbeat_age)
              << " ago, lease " << absl::FormatDuration(lock.holder.lease)
              << (lock.stale ? ", STALE: " + TerminalSafe(lock.stale_reason)
                             : ", live")
              << "\n";
  }
  return damaged ? 1 : 0;
}

int RunUnlock(const std::vector<std::string>& args) {
  if (!CheckPath(args, "file unlock PATH [--force]")) return 2;
  absl::Status status =
      LockFile::Break(LineFileBuffer::LockPath(args[0]), FLAGS_force);
  if (!status.ok()) {
    std::cerr << "syncstream: " << TerminalSafe(status.message()) << "\n";
    return 1;
  }
  std::cout << "removed lock of " << TerminalSafe(args[0]) << "\n";
  return 0;
}

constexpr char kTailExitStatuses[] =
    "  0    every record asked for was shown\n"
    "  1    records were lost (damaged, in an unreadable segment, or rotated\n"
    "       away before -f read them), or an error\n"
    "  2    usage error\n";
constexpr char kInspectExitStatuses[] =
    "  0    nothing is damaged\n"
    "  1    a segment or a frame is damaged or unreadable, or an error\n"
    "  2    usage error\n";

}  // namespace

SYNCSTREAM_REGISTER_COMMAND_WITH_EXIT_STATUSES(
    file_tail, "file tail",
    absl::StrCat("PATH [-n N] [-f] [--file_follow_seconds S] ",
                 kRecordOutputUsage),
    "Print the last lines of a LineFileBuffer (-n counts records before the "
    "filters); with -f, follow it. Damaged records, unreadable segments and "
    "lines rotated away before -f read them are named on stderr. Control "
    "characters are escaped unless --raw.",
    RunTail, kTailExitStatuses);
SYNCSTREAM_REGISTER_COMMAND_WITH_EXIT_STATUSES(
    file_inspect, "file inspect", "PATH [--json]",
    "Show a LineFileBuffer's segments, record counts, damaged frames, torn "
    "tails and lock holder.",
    RunInspect, kInspectExitStatuses);
SYNCSTREAM_REGISTER_COMMAND(file_unlock, "file unlock", "PATH [--force]",
                            "Remove a LineFileBuffer's lock if it is stale.",
                            RunUnlock);

}  // namespace syncstream::tools
