// Test fixture: nats-server processes with JetStream (Debian's nats-server,
// installed by ./bazelw) on free loopback ports, their storage and logs
// under a test's directory. One server, or a cluster of several; each can
// be SIGKILLed and restarted on the same ports and storage. Servers are
// killed when the fixture goes. A NatsServer is used by one thread at a
// time.
#ifndef SYNCSTREAM_NATS_TESTING_NATS_SERVER_H_
#define SYNCSTREAM_NATS_TESTING_NATS_SERVER_H_

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/nats/jetstream_address.h"
#include "syncstream/nats/jetstream_stream.h"

namespace syncstream::nats::testing {

// A loopback TCP port nobody listened on a moment ago.
inline absl::StatusOr<int> FreeLoopbackPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(a);
  if (!fd.valid() ||
      ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &length) != 0) {
    return absl::InternalError("no free loopback port");
  }
  return ntohs(a.sin_port);
}

// Whether something accepts connections on 127.0.0.1:`port`.
inline bool Accepts(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return fd.valid() &&
         ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
}

struct NatsServerOptions {
  std::string directory;   // storage, configuration and log go here
  std::string name = "n1";
  std::string user;        // with password: the only account allowed in
  std::string password;
  std::string cluster;     // a cluster's name ("" for a lone server)
  int cluster_port = 0;
  std::vector<int> routes;  // the other members' cluster ports
};

class NatsServer {
 public:
  // Writes the configuration and starts the server, waiting (up to 20 s)
  // until it accepts connections.
  static absl::StatusOr<std::unique_ptr<NatsServer>> Start(
      NatsServerOptions options) {
    std::unique_ptr<NatsServer> server(new NatsServer(std::move(options)));
    SYNCSTREAM_ASSIGN_OR_RETURN(server->port_, FreeLoopbackPort());
    SYNCSTREAM_RETURN_IF_ERROR(server->WriteConfig());
    SYNCSTREAM_RETURN_IF_ERROR(server->Restart());
    return server;
  }

  int port() const { return port_; }
  const std::string& name() const { return options_.name; }
  std::string host_port() const { return absl::StrCat("127.0.0.1:", port_); }
  pid_t pid() const { return process_.pid(); }
  bool running() const { return process_.valid() && !process_.reaped(); }

  // SIGKILL, and reaped.
  absl::Status Kill() {
    SYNCSTREAM_RETURN_IF_ERROR(process_.Kill(SIGKILL));
    return process_.Wait(absl::Seconds(20)).status();
  }
  // SIGTERM (a clean shutdown), and reaped.
  absl::Status Stop() {
    SYNCSTREAM_RETURN_IF_ERROR(process_.Kill(SIGTERM));
    return process_.Wait(absl::Seconds(20)).status();
  }

  // (Re)starts the server on its ports and storage.
  absl::Status Restart() {
    SpawnOptions spawn;
    spawn.argv = {"nats-server", "-c", config_};
    spawn.stdout_to = FdRedirect::DevNull();
    spawn.stderr_to = FdRedirect::DevNull();
    SYNCSTREAM_ASSIGN_OR_RETURN(process_, ChildProcess::Spawn(spawn));
    const absl::Time deadline = DeadlineAfter(absl::Seconds(20));
    while (!Accepts(port_)) {
      absl::StatusOr<std::optional<ExitStatus>> ended = process_.TryWait();
      if (ended.ok() && ended->has_value()) {
        return absl::InternalError(absl::StrCat(
            "nats-server ", options_.name, " ", (*ended)->ToString(),
            "; see ", options_.directory, "/", options_.name, ".log"));
      }
      if (::syncstream::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "nats-server ", options_.name, " not listening on ", port_));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::OkStatus();
  }

 private:
  explicit NatsServer(NatsServerOptions options)
      : options_(std::move(options)),
        config_(absl::StrCat(options_.directory, "/", options_.name,
                             ".conf")) {}

  absl::Status WriteConfig() {
    const std::string& dir = options_.directory;
    std::ofstream out(config_);
    out << "server_name: " << options_.name << "\n"
        << "listen: 127.0.0.1:" << port_ << "\n"
        << "log_file: \"" << dir << "/" << options_.name << ".log\"\n"
        << "jetstream {\n  store_dir: \"" << dir << "/" << options_.name
        << "-store\"\n}\n";
    if (!options_.user.empty()) {
      out << "authorization {\n  user: \"" << options_.user
          << "\"\n  password: \"" << options_.password << "\"\n}\n";
    }
    if (!options_.cluster.empty()) {
      std::vector<std::string> routes;
      for (int port : options_.routes) {
        routes.push_back(absl::StrCat("nats-route://127.0.0.1:", port));
      }
      out << "cluster {\n  name: " << options_.cluster
          << "\n  listen: 127.0.0.1:" << options_.cluster_port
          << "\n  routes: [" << absl::StrJoin(routes, ", ") << "]\n}\n";
    }
    out.close();
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot write ", config_));
    }
    return absl::OkStatus();
  }

  NatsServerOptions options_;
  std::string config_;
  int port_ = 0;
  ChildProcess process_;
};

// A directory for servers: $TEST_TMPDIR/`name` (made empty).
inline std::string ServerDirectory(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  std::string command = absl::StrCat("rm -rf '", dir, "' && mkdir -p '", dir, "'");
  if (std::system(command.c_str()) != 0) return "";
  return dir;
}

// `n` servers forming one JetStream cluster named "c".
inline absl::StatusOr<std::vector<std::unique_ptr<NatsServer>>> StartCluster(
    const std::string& directory, int n) {
  std::vector<int> cluster_ports;
  for (int i = 0; i < n; ++i) {
    SYNCSTREAM_ASSIGN_OR_RETURN(int port, FreeLoopbackPort());
    cluster_ports.push_back(port);
  }
  std::vector<std::unique_ptr<NatsServer>> servers;
  for (int i = 0; i < n; ++i) {
    NatsServerOptions options;
    options.directory = directory;
    options.name = absl::StrCat("n", i + 1);
    options.cluster = "c";
    options.cluster_port = cluster_ports[i];
    for (int j = 0; j < n; ++j) {
      if (j != i) options.routes.push_back(cluster_ports[j]);
    }
    SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<NatsServer> server,
                                NatsServer::Start(std::move(options)));
    servers.push_back(std::move(server));
  }
  return servers;
}

// "nats://h:p,h:p/STREAM" for `servers`.
inline JetStreamAddress AddressOf(
    const std::vector<std::unique_ptr<NatsServer>>& servers,
    const std::string& stream) {
  JetStreamAddress address;
  for (const auto& server : servers) {
    address.servers.push_back({"127.0.0.1", static_cast<uint16_t>(server->port())});
  }
  address.stream = stream;
  return address;
}

// Creates the stream, retrying while the cluster elects its leaders (up to
// `timeout`).
inline absl::Status CreateStreamWhenReady(
    const JetStreamAddress& address, const JetStreamStreamSettings& settings,
    const JetStreamCredentials& credentials = {},
    absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = DeadlineAfter(timeout);
  for (;;) {
    absl::Status created =
        CreateJetStreamStream(address, credentials, settings, absl::Seconds(5))
            .status();
    if (created.ok() || ::syncstream::Now() >= deadline) return created;
    if (created.code() != absl::StatusCode::kUnavailable &&
        created.code() != absl::StatusCode::kDeadlineExceeded &&
        created.code() != absl::StatusCode::kUnknown) {
      return created;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

}  // namespace syncstream::nats::testing

#endif  // SYNCSTREAM_NATS_TESTING_NATS_SERVER_H_
