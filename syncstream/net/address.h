// Address: where a syncstream server listens or a client connects.
//
// Text forms:
//   unix:/path/to/socket     a Unix stream socket (a filesystem path)
//   tcp:HOST:PORT            TCP; HOST is a name, an IPv4 address or an IPv6
//   HOST:PORT                address in brackets ("tcp:[::1]:7000")
//   nats://HOST:PORT[,HOST:PORT...]/STREAM
//                            a NATS JetStream stream, for mirrors and readers
//                            only (syncstream/nats/jetstream_address.h)
//
// Port 0 asks the listener for an ephemeral port; Listener::address() then
// reports the bound one. Parsing does not resolve names; Resolve() does.
#ifndef SYNCSTREAM_NET_ADDRESS_H_
#define SYNCSTREAM_NET_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/nats/jetstream_address.h"

namespace syncstream::net {

struct Address {
  enum class Family { kUnix, kTcp, kJetStream };
  Family family = Family::kTcp;
  std::string path;  // kUnix
  std::string host;  // kTcp, without brackets
  uint16_t port = 0;  // kTcp
  nats::JetStreamAddress jetstream;  // kJetStream

  bool is_unix() const { return family == Family::kUnix; }
  bool is_jetstream() const { return family == Family::kJetStream; }
  // "unix:/path" or "tcp:host:port" ("tcp:[::1]:port" for IPv6), or the
  // JetStream address's own form.
  std::string ToString() const;
  // True for Unix sockets (reachable only on this host) and for TCP hosts
  // that are loopback: "localhost", 127.0.0.0/8, ::1. Names other than
  // "localhost" are resolved; every address they resolve to must be loopback.
  bool IsLocal() const;

  friend bool operator==(const Address& a, const Address& b) {
    return a.family == b.family && a.path == b.path && a.host == b.host &&
           a.port == b.port && a.jetstream == b.jetstream;
  }
};

// Parses the text forms above. InvalidArgument naming the text on error.
absl::StatusOr<Address> ParseAddress(absl::string_view text);

// A resolved socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

// The socket addresses `address` names (one for Unix; every result of
// getaddrinfo for TCP). NotFound when a name does not resolve;
// InvalidArgument for a JetStream stream (it has no socket address).
absl::StatusOr<std::vector<SocketAddress>> Resolve(const Address& address);

// The text form of a resolved address ("127.0.0.1:5000", "[::1]:5000",
// "unix:/path"), for messages.
std::string DescribeSocketAddress(const sockaddr* address, socklen_t length);

}  // namespace syncstream::net

#endif  // SYNCSTREAM_NET_ADDRESS_H_
