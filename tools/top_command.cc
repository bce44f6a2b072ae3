// `syncstream top TARGET`: a live view, refreshed every --interval seconds, of
// a collector (tcp:/unix: address or nats:// stream), a shared-memory queue
// (queue:NAME) or a LineFileBuffer directory (file:PATH, or a directory):
// lines per second in total and per sender, the lag of each reader, dead
// participants, bytes used. --json samples one interval and prints one
// object, for scripts.
//
// Where the numbers come from (no counters were added to the buffers):
//  - queue: two SyncQueue::Inspect snapshots (read without the lock; top does
//    not attach, so it neither holds space nor shows up as a participant).
//    Lines per second: the newest sequence number's growth. A queue counts no
//    messages per writer, so there are no per-sender rates.
//  - file: the records committed between two reads (ReadFrom), counted per
//    sender; bytes: the segments' sizes.
//  - collector: a follower's records, counted per sender; the records held
//    and maxlen from Info (a JetStream stream has no Info: shown as unknown).
#include <gflags/gflags.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "syncstream/core/deadline.h"
#include "syncstream/file/line_file_buffer.h"
#include "syncstream/file/lock_file.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"
#include "syncstream/queue/sync_queue.h"
#include "tools/command.h"
#include "tools/common_flags.h"  // --json, --auth_key_file
#include "tools/record_output.h"

DEFINE_double(interval, 1,
              "top: seconds between two refreshes (with --json: the one "
              "sampled interval)");
DEFINE_int32(iterations, 0,
             "top: stop after this many refreshes (0: until interrupted)");

namespace syncstream::tools {
namespace {

std::atomic<bool> interrupted{false};

struct ReaderRow {
  std::string name;
  bool alive = true;
  uint64_t lag_messages = 0;
  uint64_t lag_bytes = 0;
};

// Cumulative counters at one moment; rates are the differences of two.
struct Sample {
  absl::Time at;
  uint64_t lines = 0;
  bool per_sender_known = false;
  std::map<std::string, uint64_t> per_sender;
  std::vector<ReaderRow> readers;
  std::optional<uint64_t> dead_participants;
  std::optional<uint64_t> used_bytes;
  std::optional<uint64_t> capacity_bytes;
  std::optional<uint64_t> records_held;
  std::optional<uint64_t> maxlen;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual const char* kind() const = 0;
  // The counters now; `interval` is how long it may wait for new records.
  virtual absl::StatusOr<Sample> Take(absl::Duration interval) = 0;
};

class QueueSampler : public Sampler {
 public:
  explicit QueueSampler(SyncQueue queue) : queue_(std::move(queue)) {}
  const char* kind() const override { return "queue"; }
  absl::StatusOr<Sample> Take(absl::Duration interval) override {
    absl::SleepFor(interval);
    absl::StatusOr<QueueSnapshot> s = queue_.Inspect();
    if (!s.ok()) return s.status();
    Sample sample;
    sample.at = ::syncstream::Now();
    sample.lines = s->newest_sequence.value_or(0);
    uint64_t dead = 0;
    for (const ParticipantInfo& p : s->participants) {
      dead += !p.alive;
      if (p.role != QueueRole::kWriter) {
        sample.readers.push_back({p.name, p.alive, p.lag_messages, p.lag_bytes});
      }
    }
    sample.dead_participants = dead;
    sample.used_bytes = s->used_bytes;
    sample.capacity_bytes = s->capacity_bytes;
    sample.records_held = s->message_count;
    return sample;
  }

 private:
  SyncQueue queue_;
};

// Counts the records a reader gets, per sender.
class RecordCounter {
 protected:
  void Count(const std::vector<Record>& records) {
    for (const Record& r : records) {
      if (!r.is_line() || r.continued) continue;  // one line, one count
      ++lines_;
      ++per_sender_[r.sender];
    }
  }
  void Fill(Sample* sample) const {
    sample->at = ::syncstream::Now();
    sample->lines = lines_;
    sample->per_sender_known = true;
    sample->per_sender = per_sender_;
  }

 private:
  uint64_t lines_ = 0;
  std::map<std::string, uint64_t> per_sender_;
};

class FileSampler : public Sampler, RecordCounter {
 public:
  static absl::StatusOr<std::unique_ptr<FileSampler>> Open(
      const std::string& path) {
    auto segments = file::LineFileBuffer::ListSegments(path);
    if (!segments.ok()) return segments.status();
    uint64_t end = 0;
    for (const auto& s : *segments) {
      if (s.header_ok) end = std::max(end, s.header.end_index());
    }
    file::LineFileBufferOptions options;
    options.maxlen = std::numeric_limits<size_t>::max();
    auto buffer = file::LineFileBuffer::Open(path, options);
    if (!buffer.ok()) return buffer.status();
    return std::unique_ptr<FileSampler>(
        new FileSampler(path, *std::move(buffer), end));
  }
  const char* kind() const override { return "file"; }
  absl::StatusOr<Sample> Take(absl::Duration interval) override {
    absl::SleepFor(interval);
    auto records = buffer_->ReadFrom(next_, &next_);
    if (!records.ok()) return records.status();
    Count(*records);
    Sample sample;
    Fill(&sample);
    auto segments = file::LineFileBuffer::ListSegments(path_);
    if (!segments.ok()) return segments.status();
    uint64_t bytes = 0, held = 0;
    for (const auto& s : *segments) {
      bytes += s.file_size;
      if (s.header_ok && !s.header.is_clear_marker()) {
        held += s.header.record_count;
      }
    }
    sample.used_bytes = bytes;
    sample.records_held = held;
    file::LockState lock =
        file::LockFile::Inspect(file::LineFileBuffer::LockPath(path_));
    sample.dead_participants = lock.present && lock.stale ? 1 : 0;
    return sample;
  }

 private:
  FileSampler(std::string path, std::unique_ptr<file::LineFileBuffer> buffer,
              uint64_t next)
      : path_(std::move(path)), buffer_(std::move(buffer)), next_(next) {}

  const std::string path_;
  std::unique_ptr<file::LineFileBuffer> buffer_;
  uint64_t next_;
};

class CollectorSampler : public Sampler, RecordCounter {
 public:
  static absl::StatusOr<std::unique_ptr<CollectorSampler>> Connect(
      const net::Address& address) {
    absl::StatusOr<net::AuthKey> key = net::AuthKey::Load(FLAGS_auth_key_file);
    if (!key.ok()) return key.status();
    auto reader = LineHostReader::Connect(address, *key, absl::Seconds(10));
    if (!reader.ok()) return reader.status();
    auto follower = (*reader)->Follow(0);
    if (!follower.ok()) return follower.status();
    return std::unique_ptr<CollectorSampler>(
        new CollectorSampler(*std::move(reader), *std::move(follower)));
  }
  const char* kind() const override { return "collector"; }
  absl::StatusOr<Sample> Take(absl::Duration interval) override {
    const absl::Time until = ::syncstream::Now() + interval;
    for (absl::Duration left = interval; left > absl::ZeroDuration();
         left = until - ::syncstream::Now()) {
      auto more = follower_->Next(left);
      if (more.ok()) {
        Count(*more);
      } else if (!absl::IsDeadlineExceeded(more.status())) {
        return more.status();
      }
    }
    Sample sample;
    Fill(&sample);
    absl::StatusOr<HostInfo> info = reader_->Info();
    if (info.ok()) {
      sample.records_held = info->size;
      sample.maxlen = info->maxlen;
    } else if (!absl::IsUnimplemented(info.status())) {
      return info.status();
    }
    return sample;
  }

 private:
  CollectorSampler(std::unique_ptr<LineHostReader> reader,
                   std::unique_ptr<HostFollower> follower)
      : reader_(std::move(reader)), follower_(std::move(follower)) {}

  std::unique_ptr<LineHostReader> reader_;
  std::unique_ptr<HostFollower> follower_;
};

absl::StatusOr<std::unique_ptr<Sampler>> OpenTarget(const std::string& target) {
  absl::string_view rest = target;
  if (absl::ConsumePrefix(&rest, "queue:")) {
    absl::StatusOr<SyncQueue> queue = SyncQueue::Open(std::string(rest));
    if (!queue.ok()) return queue.status();
    return std::unique_ptr<Sampler>(new QueueSampler(*std::move(queue)));
  }
  const bool file_prefix = absl::ConsumePrefix(&rest, "file:");
  struct stat st;
  if (file_prefix || (::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
    if (::stat(std::string(rest).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(
          absl::StrCat("file buffer '", rest, "': no such directory"));
    }
    auto sampler = FileSampler::Open(std::string(rest));
    if (!sampler.ok()) return sampler.status();
    return std::unique_ptr<Sampler>(std::move(*sampler));
  }
  absl::StatusOr<net::Address> address = net::ParseAddress(target);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target '", target,
        "': neither queue:NAME, file:PATH, a directory nor an address (",
        address.status().message(), ")"));
  }
  auto sampler = CollectorSampler::Connect(*address);
  if (!sampler.ok()) return sampler.status();
  return std::unique_ptr<Sampler>(std::move(*sampler));
}

double PerSecond(uint64_t from, uint64_t to, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return to >= from && seconds > 0 ? static_cast<double>(to - from) / seconds
                                   : 0;
}

// The lines per second of each sender between `a` and `b`, busiest first.
std::vector<std::pair<std::string, double>> SenderRates(const Sample& a,
                                                        const Sample& b) {
  std::vector<std::pair<std::string, double>> rates;
  for (const auto& [sender, count] : b.per_sender) {
    auto before = a.per_sender.find(sender);
    const uint64_t from = before == a.per_sender.end() ? 0 : before->second;
    if (count > from) {
      rates.emplace_back(sender, PerSecond(from, count, b.at - a.at));
    }
  }
  std::sort(rates.begin(), rates.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  return rates;
}

std::string Optional(const std::optional<uint64_t>& v) {
  return v ? absl::StrCat(*v) : "null";
}

std::string Json(const std::string& target, const char* kind, const Sample& a,
                 const Sample& b) {
  std::string out = absl::StrCat(
      "{\"target\":", JsonString(target), ",\"kind\":\"", kind,
      "\",\"interval_seconds\":", absl::ToDoubleSeconds(b.at - a.at),
      ",\"lines_per_second\":", PerSecond(a.lines, b.lines, b.at - a.at),
      ",\"senders\":");
  if (b.per_sender_known) {
    std::vector<std::string> senders;
    for (const auto& [name, rate] : SenderRates(a, b)) {
      senders.push_back(absl::StrCat("{\"name\":", JsonString(name),
                                     ",\"lines_per_second\":", rate, "}"));
    }
    absl::StrAppend(&out, "[", absl::StrJoin(senders, ","), "]");
  } else {
    out += "null";
  }
  std::vector<std::string> readers;
  for (const ReaderRow& r : b.readers) {
    readers.push_back(absl::StrCat(
        "{\"name\":", JsonString(r.name), ",\"alive\":",
        r.alive ? "true" : "false", ",\"lag_messages\":", r.lag_messages,
        ",\"lag_bytes\":", r.lag_bytes, "}"));
  }
  absl::StrAppend(&out, ",\"readers\":[", absl::StrJoin(readers, ","),
                  "],\"dead_participants\":", Optional(b.dead_participants),
                  ",\"used_bytes\":", Optional(b.used_bytes),
                  ",\"capacity_bytes\":", Optional(b.capacity_bytes),
                  ",\"records_held\":", Optional(b.records_held),
                  ",\"maxlen\":", Optional(b.maxlen), "}");
  return out;
}

std::string Text(const std::string& target, const char* kind, const Sample& a,
                 const Sample& b) {
  std::string out = absl::StrFormat(
      "%s %s  %s  %.1f lines/s\n", kind, TerminalSafe(target),
      absl::FormatTime("%H:%M:%S", b.at, absl::LocalTimeZone()),
      PerSecond(a.lines, b.lines, b.at - a.at));
  if (b.used_bytes) {
    absl::StrAppend(&out, "  bytes used: ", *b.used_bytes);
    if (b.capacity_bytes) absl::StrAppend(&out, " of ", *b.capacity_bytes);
    out += "\n";
  }
  if (b.records_held) {
    absl::StrAppend(&out, "  records held: ", *b.records_held);
    if (b.maxlen) absl::StrAppend(&out, " of ", *b.maxlen);
    out += "\n";
  }
  if (b.dead_participants) {
    absl::StrAppend(&out, "  dead participants: ", *b.dead_participants, "\n");
  }
  if (!b.readers.empty()) {
    absl::StrAppend(&out, absl::StrFormat("  %-24s %-5s %12s %12s\n", "READER",
                                          "STATE", "LAG", "LAG BYTES"));
    for (const ReaderRow& r : b.readers) {
      absl::StrAppend(&out, absl::StrFormat("  %-24s %-5s %12d %12d\n",
                                            TerminalSafe(r.name),
                                            r.alive ? "alive" : "dead",
                                            r.lag_messages, r.lag_bytes));
    }
  }
  if (b.per_sender_known) {
    absl::StrAppend(&out, absl::StrFormat("  %-40s %10s\n", "SENDER", "LINES/S"));
    for (const auto& [name, rate] : SenderRates(a, b)) {
      absl::StrAppend(&out, absl::StrFormat("  %-40s %10.1f\n",
                                            TerminalSafe(name), rate));
    }
  }
  return out;
}

int RunTop(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << "usage: syncstream top TARGET (see --help)\n";
    return kUsageError;
  }
  if (!(FLAGS_interval > 0) || FLAGS_iterations < 0) {
    std::cerr << "syncstream top: --interval must be above 0 and "
                 "--iterations at least 0\n";
    return kUsageError;
  }
  absl::StatusOr<std::unique_ptr<Sampler>> sampler = OpenTarget(args[0]);
  if (!sampler.ok()) {
    std::cerr << "syncstream top: " << TerminalSafe(sampler.status().ToString())
              << "\n";
    return 1;
  }
  ::signal(SIGINT, [](int) { interrupted = true; });
  ::signal(SIGTERM, [](int) { interrupted = true; });
  const absl::Duration interval = absl::Seconds(FLAGS_interval);
  absl::StatusOr<Sample> previous = (*sampler)->Take(absl::ZeroDuration());
  const bool terminal = ::isatty(STDOUT_FILENO) == 1 && !FLAGS_json;
  for (int shown = 0; previous.ok() && !interrupted &&
                      (FLAGS_iterations == 0 || shown < FLAGS_iterations);
       ++shown) {
    absl::StatusOr<Sample> now = (*sampler)->Take(interval);
    if (!now.ok()) {
      previous = now.status();
      break;
    }
    if (FLAGS_json) {
      std::cout << Json(args[0], (*sampler)->kind(), *previous, *now)
                << std::endl;
      return 0;
    }
    std::cout << (terminal ? "\x1b[H\x1b[2J" : (shown > 0 ? "\n" : ""))
              << Text(args[0], (*sampler)->kind(), *previous, *now)
              << std::flush;
    previous = *std::move(now);
  }
  if (!previous.ok()) {
    std::cerr << "syncstream top: " << TerminalSafe(previous.status().ToString())
              << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

SYNCSTREAM_REGISTER_COMMAND(
    top, "top",
    "TARGET [--interval S] [--iterations N] [--json] [--auth_key_file F]  "
    "(TARGET: queue:NAME, file:PATH or a directory, or a collector's address)",
    "Live view of a queue, a LineFileBuffer or a collector, refreshed every "
    "--interval seconds: lines/s in total and per sender (not for a queue: "
    "it counts no messages per writer), each reader's lag, dead "
    "participants, bytes used, records held. --json samples one interval "
    "and prints one object.",
    RunTop);

}  // namespace syncstream::tools
