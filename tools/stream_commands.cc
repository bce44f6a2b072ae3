// syncstream stream create / info / rm: set up the NATS JetStream stream
// that `syncstream send` (and LineHostMirror) publish to and `syncstream
// read` reads, so that an operator needs no other tool.
//
//   syncstream stream create nats://n1:4222,n2:4222,n3:4222/BUILD
//       --max_lines 1000000 --replicas 3 [--max_age 24h] [--max_bytes B]
//   syncstream stream info nats://n1:4222/BUILD
//   syncstream stream rm nats://n1:4222/BUILD
#include <gflags/gflags.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "syncstream/nats/jetstream_address.h"
#include "syncstream/nats/jetstream_stream.h"
#include "tools/command.h"
#include "tools/common_flags.h"
#include "tools/nats_credentials.h"
#include "tools/record_output.h"

DEFINE_int64(max_lines, 0,
             "stream create: keep at least the last N lines (JetStream keeps "
             "the last N batches, each of one or more lines); required");
DEFINE_int32(replicas, 1,
             "stream create: copies of the stream on distinct servers of the "
             "cluster (1-5; 3 survives the loss of one server)");
DEFINE_string(max_age, "",
              "stream create: drop lines older than this (\"24h\", \"90m\"; "
              "default: never)");
DEFINE_int64(max_bytes, -1,
             "stream create: drop the oldest batches beyond this many bytes "
             "(default: no limit)");
DEFINE_string(duplicate_window, "2m",
              "stream create: how long a resent batch is recognised and "
              "stored once; longer than any mirror's reconnection takes");

namespace syncstream::tools {
namespace {

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "syncstream stream " << command << ": "
            << TerminalSafe(status.ToString()) << "\n";
  return 1;
}

// Parses the one argument, ADDR, and loads the credentials.
bool Prepare(const std::string& command, const std::vector<std::string>& args,
             nats::JetStreamAddress* address,
             nats::JetStreamCredentials* credentials, int* exit_code) {
  if (args.size() != 1) {
    std::cerr << "usage: syncstream stream " << command
              << " nats://HOST:PORT[,HOST:PORT...]/STREAM ...\n";
    *exit_code = 2;
    return false;
  }
  absl::StatusOr<nats::JetStreamAddress> parsed =
      nats::ParseJetStreamAddress(args[0]);
  if (!parsed.ok()) {
    *exit_code = Fail(command, parsed.status());
    return false;
  }
  *address = *std::move(parsed);
  absl::StatusOr<nats::JetStreamCredentials> loaded =
      NatsCredentialsFromFlags();
  if (!loaded.ok()) {
    *exit_code = Fail(command, loaded.status());
    return false;
  }
  *credentials = *std::move(loaded);
  return true;
}

bool ParseDurationFlag(const std::string& flag, const std::string& text,
                       absl::Duration* out) {
  if (text.empty()) return true;
  if (!absl::ParseDuration(text, out) || *out < absl::ZeroDuration()) {
    std::cerr << "syncstream stream create: --" << flag << " '" << text
              << "' is not a duration such as 90s, 30m or 24h\n";
    return false;
  }
  return true;
}

int RunCreate(const std::vector<std::string>& args) {
  nats::JetStreamAddress address;
  nats::JetStreamCredentials credentials;
  int exit_code = 0;
  if (!Prepare("create", args, &address, &credentials, &exit_code)) {
    return exit_code;
  }
  if (FLAGS_max_lines <= 0) {
    std::cerr << "syncstream stream create: --max_lines N is required "
                 "(at least 1)\n";
    return 2;
  }
  nats::JetStreamStreamSettings settings;
  settings.max_lines = static_cast<uint64_t>(FLAGS_max_lines);
  settings.replicas = FLAGS_replicas;
  settings.max_bytes = FLAGS_max_bytes;
  if (!ParseDurationFlag("max_age", FLAGS_max_age, &settings.max_age) ||
      !ParseDurationFlag("duplicate_window", FLAGS_duplicate_window,
                         &settings.duplicate_window)) {
    return 2;
  }
  absl::StatusOr<nats::JetStreamStreamInfo> info =
      nats::CreateJetStreamStream(address, credentials, settings);
  if (!info.ok()) return Fail("create", info.status());
  std::cout << TerminalSafeLines(info->ToString());
  return 0;
}

int RunInfo(const std::vector<std::string>& args) {
  nats::JetStreamAddress address;
  nats::JetStreamCredentials credentials;
  int exit_code = 0;
  if (!Prepare("info", args, &address, &credentials, &exit_code)) {
    return exit_code;
  }
  absl::StatusOr<nats::JetStreamStreamInfo> info =
      nats::GetJetStreamStreamInfo(address, credentials);
  if (!info.ok()) return Fail("info", info.status());
  std::cout << TerminalSafeLines(info->ToString());
  return 0;
}

int RunRm(const std::vector<std::string>& args) {
  nats::JetStreamAddress address;
  nats::JetStreamCredentials credentials;
  int exit_code = 0;
  if (!Prepare("rm", args, &address, &credentials, &exit_code)) {
    return exit_code;
  }
  absl::Status deleted = nats::DeleteJetStreamStream(address, credentials);
  if (!deleted.ok()) return Fail("rm", deleted);
  std::cout << "syncstream stream rm: deleted "
            << TerminalSafe(address.ToString()) << "\n";
  return 0;
}

}  // namespace

SYNCSTREAM_REGISTER_COMMAND(
    stream_create, "stream create",
    absl::StrCat("nats://HOST:PORT[,HOST:PORT...]/STREAM --max_lines N "
                 "[--replicas R] [--max_age D] [--max_bytes B] "
                 "[--duplicate_window D] ",
                 kNatsFlagsUsage),
    "Create the JetStream stream that send and read use (subjects "
    "syncstream.STREAM.>, file storage).",
    RunCreate);
SYNCSTREAM_REGISTER_COMMAND(
    stream_info, "stream info",
    absl::StrCat("nats://HOST:PORT[,HOST:PORT...]/STREAM ", kNatsFlagsUsage),
    "Show a JetStream stream's limits, batches, sequences and leader.",
    RunInfo);
SYNCSTREAM_REGISTER_COMMAND(
    stream_rm, "stream rm",
    absl::StrCat("nats://HOST:PORT[,HOST:PORT...]/STREAM ", kNatsFlagsUsage),
    "Delete a JetStream stream and every line in it.", RunRm);

}  // namespace syncstream::tools
