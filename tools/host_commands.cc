// syncstream serve / read / send: the network host buffers from the shell.
//
//   syncstream serve --listen tcp:127.0.0.1:7700 --maxlen 100000
//       --auth-key-file key [--store DIR]
//   syncstream read tcp:127.0.0.1:7700 [-n 20] [-f]
//   some_program | syncstream send tcp:127.0.0.1:7700 --send_as build-42
//
// read and send take a JetStream stream too (nats://HOST:PORT/STREAM, see
// tools/stream_commands.cc), with the --nats_* credential flags.
#include <gflags/gflags.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/log_line.h"
#include "syncstream/host/line_host_buffer.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"
#include "tools/command.h"
#include "tools/common_flags.h"
#include "tools/nats_credentials.h"
#include "tools/record_output.h"

DEFINE_string(store, "",
              "serve: keep acknowledged records in this directory so they "
              "survive a restart");
DEFINE_bool(sync_store, false,
            "serve: fdatasync the store before every acknowledgement "
            "(survives power loss; slower)");
DEFINE_string(send_as, "",
              "send: the sender name of the lines (default: the host name)");
DEFINE_bool(send_drop_oldest, false,
            "send: when the collector cannot keep up, drop the oldest queued "
            "lines (counted in a warning record) instead of waiting");
DEFINE_bool(control_clear, false, "read: clear the collector's records");
DEFINE_bool(control_stop, false, "read: stop all mirrors");
DEFINE_bool(control_reset, false, "read: reset (reopen and clear)");
DEFINE_string(after, "",
              "read -f: start after record SEQ, or COLLECTOR:SEQ (what "
              "'read -f' prints on stderr when it stops), instead of the "
              "last N records; records no longer held are reported on stderr");

namespace syncstream::tools {
namespace {

// Unless --listen is given.
constexpr char kDefaultCollectorAddress[] = "tcp:127.0.0.1:7700";

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "syncstream " << command << ": "
            << TerminalSafe(status.ToString()) << "\n";
  return 1;
}

absl::StatusOr<net::AuthKey> LoadKey() {
  return net::AuthKey::Load(FLAGS_auth_key_file);
}

// Blocks SIGINT and SIGTERM in every thread so they can be awaited.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// True once SIGINT/SIGTERM arrived (waiting up to `timeout`).
bool StopSignalled(const sigset_t& set, absl::Duration timeout) {
  timespec ts = ToRelativeTimespec(timeout);
  return sigtimedwait(&set, nullptr, &ts) > 0;
}

int RunServe(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cerr << "syncstream serve: unexpected argument '" << args[0] << "'\n";
    return 2;
  }
  if (FLAGS_maxlen <= 0) {
    std::cerr << "syncstream serve: --maxlen must be at least 1\n";
    return 2;
  }
  absl::StatusOr<net::Address> address = net::ParseAddress(
      FLAGS_listen.empty() ? kDefaultCollectorAddress : FLAGS_listen);
  if (!address.ok()) return Fail("serve", address.status());
  absl::StatusOr<net::AuthKey> key = LoadKey();
  if (!key.ok()) return Fail("serve", key.status());
  sigset_t stop = BlockStopSignals();
  LineHostBufferOptions options;
  options.listen = *address;
  options.key = *key;
  options.maxlen = static_cast<size_t>(FLAGS_maxlen);
  options.store_dir = FLAGS_store;
  options.sync_store = FLAGS_sync_store;
  options.log = [](absl::string_view message) {
    WriteLogLine("syncstream serve: ", message);
  };
  absl::StatusOr<std::unique_ptr<LineHostBuffer>> buffer =
      LineHostBuffer::Start(std::move(options));
  if (!buffer.ok()) return Fail("serve", buffer.status());
  std::cout << "syncstream serve: listening on "
            << (*buffer)->address().ToString() << " (maxlen "
            << (*buffer)->maxlen() << ", " << (*buffer)->Size()
            << " records restored"
            << (key->empty() ? ", no key" : ", key required") << ")"
            << std::endl;
  while (!StopSignalled(stop, absl::Seconds(1))) {
  }
  (*buffer)->Shutdown();
  std::cerr << "syncstream serve: stopped" << std::endl;
  return 0;
}

// "SEQ" or "COLLECTOR:SEQ" (COLLECTOR in hex) of --after.
bool ParseAfter(const std::string& text, std::string* collector_id,
                uint64_t* after) {
  const size_t colon = text.rfind(':');
  std::string id_hex;
  if (colon != std::string::npos) {
    id_hex = text.substr(0, colon);
    if (id_hex.empty() || id_hex.size() % 2 != 0) return false;
    for (char c : id_hex) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
    }
    *collector_id = absl::HexStringToBytes(id_hex);
  }
  return absl::SimpleAtoi(
      colon == std::string::npos ? text : text.substr(colon + 1), after);
}

// read -f: follows, and when the connection breaks (the collector restarted,
// a network failure) reconnects with backoff and resumes after the last
// record printed. Gaps (records evicted or cleared before they were read, a
// collector that lost its records) are said on stderr; on SIGINT/SIGTERM the
// point to resume from is.
int Follow(const net::Address& address, const net::AuthKey& key,
           const nats::JetStreamCredentials& jetstream,
           std::unique_ptr<LineHostReader> reader, RecordPrinter& printer) {
  sigset_t stop = BlockStopSignals();
  std::unique_ptr<HostFollower> follower;
  bool resume = false;
  uint64_t from = 0;
  std::string collector_id;
  if (!FLAGS_after.empty()) {
    uint64_t after = 0;
    if (!ParseAfter(FLAGS_after, &collector_id, &after) ||
        after == std::numeric_limits<uint64_t>::max()) {
      std::cerr << "syncstream read: --after wants SEQ or COLLECTOR:SEQ, not '"
                << FLAGS_after << "'\n";
      return 2;
    }
    resume = true;
    from = after + 1;
  }
  absl::Duration backoff = absl::Milliseconds(50);
  absl::Status broken;  // why the last connection ended
  for (;;) {
    if (follower == nullptr) {
      absl::StatusOr<std::unique_ptr<HostFollower>> started =
          absl::UnavailableError("not connected");
      if (reader == nullptr) {
        absl::StatusOr<std::unique_ptr<LineHostReader>> connected =
            LineHostReader::Connect(address, key, absl::Seconds(10),
                                    jetstream);
        if (connected.ok()) {
          reader = std::move(*connected);
        } else {
          started = connected.status();
        }
      }
      if (reader != nullptr) {
        if (resume) {
          started = reader->FollowFrom(from, collector_id);
        } else {
          if (FLAGS_n > 0) {
            started = reader->Follow(static_cast<size_t>(FLAGS_n));
          } else if (address.is_jetstream()) {
            // A stream does not count lines.
            started = reader->Follow(nats::JetStreamReader::kAll);
          } else {
            absl::StatusOr<HostInfo> info = reader->Info();
            if (info.ok()) {
              started = reader->Follow(info->maxlen);
            } else {
              started = info.status();
            }
          }
        }
      }
      if (!started.ok()) {
        reader.reset();
        const absl::StatusCode code = started.status().code();
        if (broken.ok() || code == absl::StatusCode::kUnauthenticated ||
            code == absl::StatusCode::kFailedPrecondition ||
            code == absl::StatusCode::kInvalidArgument ||
            code == absl::StatusCode::kUnimplemented) {
          return Fail("read", started.status());  // never connected, or fatal
        }
        if (StopSignalled(stop, backoff)) break;
        backoff = std::min(backoff * 2, absl::Seconds(2));
        continue;
      }
      follower = std::move(*started);
      if (!broken.ok()) {
        std::cerr << "syncstream read: reconnected" << std::endl;
        broken = absl::OkStatus();
      }
    }
    if (StopSignalled(stop, absl::ZeroDuration())) break;
    absl::StatusOr<std::vector<Record>> more =
        follower->Next(absl::Milliseconds(500));
    if (follower->has_position()) {
      resume = true;
      from = follower->next_position();
      collector_id = follower->collector_id();
    }
    if (!more.ok()) {
      if (more.status().code() == absl::StatusCode::kDeadlineExceeded) {
        continue;
      }
      if (more.status().code() != absl::StatusCode::kUnavailable ||
          address.is_jetstream()) {  // no position to resume from
        return Fail("read", more.status());
      }
      std::cerr << "syncstream read: " << more.status().message()
                << "; reconnecting" << std::endl;
      broken = more.status();
      follower.reset();
      reader.reset();
      continue;
    }
    backoff = absl::Milliseconds(50);
    if (follower->restarted()) {
      std::cerr << "syncstream read: the collector does not have the records "
                   "after the last one printed (restarted without its store, "
                   "or another collector); going on with the oldest record "
                   "it holds: records in between may be missing"
                << std::endl;
    }
    if (follower->skipped() > 0) {
      std::cerr << "syncstream read: " << follower->skipped()
                << " records were evicted or cleared before they could be "
                   "read"
                << std::endl;
    }
    for (const Record& r : *more) printer.Print(r);
    printer.Flush();
  }
  if (resume && from > 0) {
    std::cerr << "syncstream read: stopped; continue with --after "
              << absl::BytesToHexString(collector_id) << ":" << from - 1
              << std::endl;
  }
  return 0;
}

int RunRead(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << "usage: syncstream read ADDR [-n N] [-f]\n";
    return 2;
  }
  absl::StatusOr<RecordOutputOptions> output =
      RecordOutputOptionsFromFlags(RecordFormat::kText);
  if (!output.ok()) {
    std::cerr << "syncstream read: " << output.status().message() << "\n";
    return 2;
  }
  // Joins the pieces of a line longer than the maximum line length again.
  RecordPrinter printer(std::cout, *output);
  absl::StatusOr<net::Address> address = net::ParseAddress(args[0]);
  if (!address.ok()) return Fail("read", address.status());
  absl::StatusOr<net::AuthKey> key = LoadKey();
  if (!key.ok()) return Fail("read", key.status());
  nats::JetStreamCredentials jetstream;
  if (address->is_jetstream()) {
    absl::StatusOr<nats::JetStreamCredentials> loaded =
        NatsCredentialsFromFlags();
    if (!loaded.ok()) return Fail("read", loaded.status());
    jetstream = *std::move(loaded);
  }
  absl::StatusOr<std::unique_ptr<LineHostReader>> reader =
      LineHostReader::Connect(*address, *key, absl::Seconds(10), jetstream);
  if (!reader.ok()) return Fail("read", reader.status());
  absl::Status control;
  if (FLAGS_control_clear) control = (*reader)->Clear();
  if (control.ok() && FLAGS_control_stop) control = (*reader)->StopAllMirrors();
  if (control.ok() && FLAGS_control_reset) control = (*reader)->ResetStates();
  if (!control.ok()) return Fail("read", control);
  if (FLAGS_control_clear || FLAGS_control_stop || FLAGS_control_reset) {
    return 0;
  }
  if (!FLAGS_after.empty() && !FLAGS_f) {
    std::cerr << "syncstream read: --after needs -f\n";
    return 2;
  }
  if (!FLAGS_f) {
    absl::StatusOr<std::vector<Record>> records =
        FLAGS_n <= 0 ? (*reader)->ReadAll()
                     : (*reader)->Read(static_cast<size_t>(FLAGS_n));
    if (!records.ok()) return Fail("read", records.status());
    for (const Record& r : *records) printer.Print(r);
    return 0;
  }
  return Follow(*address, *key, jetstream, std::move(*reader), printer);
}

int RunSend(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << "usage: syncstream send ADDR [--send_as NAME]\n";
    return 2;
  }
  absl::StatusOr<net::Address> address = net::ParseAddress(args[0]);
  if (!address.ok()) return Fail("send", address.status());
  absl::StatusOr<net::AuthKey> key = LoadKey();
  if (!key.ok()) return Fail("send", key.status());
  LineHostMirrorOptions options;
  options.collector = *address;
  options.key = *key;
  if (address->is_jetstream()) {
    absl::StatusOr<nats::JetStreamCredentials> loaded =
        NatsCredentialsFromFlags();
    if (!loaded.ok()) return Fail("send", loaded.status());
    options.jetstream = *std::move(loaded);
  }
  options.drop_oldest = FLAGS_send_drop_oldest;
  options.writer.name = FLAGS_send_as;
  if (options.writer.name.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    options.writer.name = absl::StrCat(host, ":", getpid());
  }
  absl::StatusOr<std::unique_ptr<LineHostMirror>> mirror =
      LineHostMirror::Create(std::move(options));
  if (!mirror.ok()) return Fail("send", mirror.status());
  std::vector<char> buffer(1 << 16);
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail("send", absl::InternalError(absl::StrCat(
                              "reading stdin: ", std::strerror(errno))));
    }
    absl::Status written =
        (*mirror)->Write(absl::string_view(buffer.data(), n));
    if (!written.ok()) return Fail("send", written);
  }
  absl::Status closed = (*mirror)->Close(absl::Seconds(60));
  if (!closed.ok()) return Fail("send", closed);
  return 0;
}

}  // namespace

SYNCSTREAM_REGISTER_COMMAND(
    serve, "serve",
    "[--listen ADDR] [--maxlen N] [--auth_key_file F] [--store DIR] "
    "[--sync_store]",
    "Run a LineHostBuffer collector that mirrors on other hosts send lines "
    "to (default address tcp:127.0.0.1:7700).",
    RunServe);
SYNCSTREAM_REGISTER_COMMAND(
    read, "read",
    absl::StrCat("ADDR [-n N] [-f [--after SEQ]] [--auth_key_file F] ",
                 kRecordOutputUsage,
                 " [--control_clear | --control_stop | --control_reset] ",
                 kNatsFlagsUsage),
    "Print the last N records of a collector or of a JetStream stream "
    "(ADDR nats://HOST:PORT[,HOST:PORT...]/STREAM; -n counts records before "
    "the filters); -f keeps following (through collector restarts: it "
    "reconnects and resumes). A line longer than the maximum line "
    "length is printed whole; names and text have control characters "
    "escaped unless --raw.",
    RunRead);
SYNCSTREAM_REGISTER_COMMAND(
    send, "send",
    absl::StrCat("ADDR [--send_as NAME] [--send_drop_oldest] "
                 "[--auth_key_file F] ",
                 kNatsFlagsUsage),
    "Send standard input's lines to a collector or to a JetStream stream "
    "(like logger).",
    RunSend);

}  // namespace syncstream::tools
