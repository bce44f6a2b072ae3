// syncstream manager serve / ls: the Manager from the shell.
//
//   syncstream manager serve --listen unix:/run/app/manager.sock
//   syncstream manager serve --listen tcp:0.0.0.0:7710 --auth_key_file key
//   syncstream manager ls unix:/run/app/manager.sock [--json]
#include <gflags/gflags.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "syncstream/core/deadline.h"
#include "syncstream/manager/client.h"
#include "syncstream/manager/manager.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"
#include "tools/command.h"
#include "tools/common_flags.h"  // --listen, --auth_key_file, --json
#include "tools/record_output.h"

namespace syncstream::tools {
namespace {

using manager::Value;

// Unless --listen is given: not the host collector's default port.
constexpr char kDefaultManagerAddress[] = "tcp:127.0.0.1:7710";

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "syncstream manager " << command << ": "
            << TerminalSafe(status.ToString()) << "\n";
  return 1;
}

bool StopSignalled(const sigset_t& set, absl::Duration timeout) {
  timespec ts = ToRelativeTimespec(timeout);
  return sigtimedwait(&set, nullptr, &ts) > 0;
}

int RunServe(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cerr << "syncstream manager serve: unexpected argument '" << args[0]
              << "'\n";
    return 2;
  }
  const std::string listen =
      FLAGS_listen.empty() ? kDefaultManagerAddress : FLAGS_listen;
  absl::StatusOr<net::Address> address = net::ParseAddress(listen);
  if (!address.ok()) return Fail("serve", address.status());
  manager::ManagerOptions options;
  absl::StatusOr<net::AuthKey> key = net::AuthKey::Load(FLAGS_auth_key_file);
  if (!key.ok()) return Fail("serve", key.status());
  options.key = *key;
  // SIGINT/SIGTERM are awaited, not delivered, in every thread.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  absl::StatusOr<std::unique_ptr<manager::Manager>> server =
      manager::Manager::Start(*address, std::move(options));
  if (!server.ok()) return Fail("serve", server.status());
  std::cout << "syncstream manager: listening on "
            << (*server)->address().ToString()
            << (key->empty() ? " (no key)" : " (key required)") << std::endl;
  while (!StopSignalled(stop, absl::Seconds(1))) {
  }
  (*server)->Stop();
  std::cerr << "syncstream manager: stopped" << std::endl;
  return 0;
}

void AppendJson(const Value& v, std::string* out) {
  switch (v.kind()) {
    case manager::ValueKind::kNull:
      out->append("null");
      break;
    case manager::ValueKind::kBool:
      out->append(v.as_bool() ? "true" : "false");
      break;
    case manager::ValueKind::kInt:
      absl::StrAppend(out, v.as_int());
      break;
    case manager::ValueKind::kDouble:
      absl::StrAppend(out, v.as_double());
      break;
    case manager::ValueKind::kString:
    case manager::ValueKind::kBytes:
      out->append(JsonString(v.is_string() ? v.as_string() : v.as_bytes()));
      break;
    case manager::ValueKind::kList: {
      out->append("[");
      bool first = true;
      for (const Value& item : v.as_list()) {
        if (!first) out->append(", ");
        first = false;
        AppendJson(item, out);
      }
      out->append("]");
      break;
    }
    case manager::ValueKind::kDict: {
      out->append("{");
      bool first = true;
      for (const auto& [key, item] : v.as_dict()) {
        if (!first) out->append(", ");
        first = false;
        // A key must be a JSON string: bytes that are not UTF-8 as \xNN.
        absl::StrAppend(out, JsonString(TerminalSafe(key)), ": ");
        AppendJson(item, out);
      }
      out->append("}");
      break;
    }
    case manager::ValueKind::kRef:
      absl::StrAppend(out, "{\"ref\": ", v.as_ref().object_id, "}");
      break;
  }
}

// The entry's `key` as text safe for a terminal (names are anyone's).
std::string Field(const manager::ValueDict& entry, const std::string& key) {
  auto it = entry.find(key);
  if (it == entry.end()) return "";
  if (it->second.is_string()) return TerminalSafe(it->second.as_string());
  if (it->second.is_list()) {
    std::vector<std::string> items;
    for (const Value& item : it->second.as_list()) {
      items.push_back(item.is_string() ? item.as_string() : item.DebugString());
    }
    return items.empty() ? "-" : TerminalSafe(absl::StrJoin(items, "; "));
  }
  return TerminalSafe(it->second.DebugString());
}

int RunLs(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << "usage: syncstream manager ls ADDR [--json]\n";
    return 2;
  }
  absl::StatusOr<net::AuthKey> key = net::AuthKey::Load(FLAGS_auth_key_file);
  if (!key.ok()) return Fail("ls", key.status());
  manager::ClientOptions options;
  options.connect_timeout = absl::Seconds(5);
  options.reply_timeout = absl::Seconds(10);
  absl::StatusOr<std::shared_ptr<manager::ManagerClient>> client =
      manager::ManagerClient::Connect(args[0], *key, options);
  if (!client.ok()) return Fail("ls", client.status());
  // Streamed page by page (ManagerClient::ForEachObject): a manager holding
  // any number of objects is listed without one huge reply.
  if (FLAGS_json) {
    bool first = true;
    std::cout << "[";
    absl::Status listed = (*client)->ForEachObject([&](const Value& object) {
      std::string out = first ? "" : ",";
      first = false;
      AppendJson(object, &out);
      std::cout << out;
      return absl::OkStatus();
    });
    std::cout << "]\n";
    if (!listed.ok()) return Fail("ls", listed);
    return 0;
  }
  std::printf("%-6s %-18s %-20s %5s %7s  %-30s %s\n", "ID", "TYPE", "NAME",
              "REFS", "WAITERS", "HOLDERS", "STATE");
  absl::Status listed = (*client)->ForEachObject([](const Value& object) {
    const manager::ValueDict& e = object.as_dict();
    std::string name = Field(e, "name");
    std::printf("%-6s %-18s %-20s %5s %7s  %-30s %s\n", Field(e, "id").c_str(),
                Field(e, "type").c_str(), name.empty() ? "-" : name.c_str(),
                Field(e, "references").c_str(), Field(e, "waiters").c_str(),
                Field(e, "holders").c_str(), Field(e, "state").c_str());
    return absl::OkStatus();
  });
  if (!listed.ok()) return Fail("ls", listed);
  return 0;
}

}  // namespace
}  // namespace syncstream::tools

SYNCSTREAM_REGISTER_COMMAND(
    manager_serve, "manager serve", "[--listen ADDR] [--auth_key_file F]",
    "Run a Manager (shared locks, queues, dicts... for many processes); "
    "default address tcp:127.0.0.1:7710.",
    syncstream::tools::RunServe);
SYNCSTREAM_REGISTER_COMMAND(
    manager_ls, "manager ls", "ADDR [--json]",
    "List a Manager's objects with their type, name, holders and waiters.",
    syncstream::tools::RunLs);
