#include "syncstream/net/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace syncstream::net {
namespace {

bool IsLoopbackSockaddr(const SocketAddress& a) {
  if (a.family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      return in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
  }
  return a.family == AF_UNIX;
}

}  // namespace

std::string Address::ToString() const {
  if (is_unix()) return absl::StrCat("unix:", path);
  if (is_jetstream()) return jetstream.ToString();
  if (absl::StrContains(host, ':')) {
    return absl::StrCat("tcp:[", host, "]:", port);
  }
  return absl::StrCat("tcp:", host, ":", port);
}

bool Address::IsLocal() const {
  if (is_unix()) return true;
  if (is_jetstream()) return false;
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  absl::StatusOr<std::vector<SocketAddress>> resolved = Resolve(*this);
  if (!resolved.ok() || resolved->empty()) return false;
  for (const SocketAddress& a : *resolved) {
    if (!IsLoopbackSockaddr(a)) return false;
  }
  return true;
}

absl::StatusOr<Address> ParseAddress(absl::string_view text) {
  Address address;
  absl::string_view rest = text;
  if (nats::IsJetStreamAddress(text)) {
    absl::StatusOr<nats::JetStreamAddress> jetstream =
        nats::ParseJetStreamAddress(text);
    if (!jetstream.ok()) return jetstream.status();
    address.family = Address::Family::kJetStream;
    address.jetstream = *std::move(jetstream);
    return address;
  }
  if (absl::ConsumePrefix(&rest, "unix:")) {
    if (rest.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("address '", text, "': empty Unix socket path"));
    }
    if (rest.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "address '", text, "': Unix socket path longer than ",
          sizeof(sockaddr_un{}.sun_path) - 1, " bytes"));
    }
    address.family = Address::Family::kUnix;
    address.path = std::string(rest);
    return address;
  }
  absl::ConsumePrefix(&rest, "tcp:");
  absl::string_view host;
  absl::string_view port;
  if (absl::ConsumePrefix(&rest, "[")) {
    size_t close = rest.find(']');
    if (close == absl::string_view::npos || close + 1 >= rest.size() ||
        rest[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat(
          "address '", text, "': expected [IPV6]:PORT after the '['"));
    }
    host = rest.substr(0, close);
    port = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "address '", text,
          "': expected unix:/PATH, tcp:HOST:PORT, HOST:PORT or "
          "nats://HOST:PORT/STREAM"));
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "address '", text, "': write IPv6 hosts in brackets, [::1]:PORT"));
    }
  }
  uint32_t port_number = 0;
  if (host.empty() || !absl::SimpleAtoi(port, &port_number) ||
      port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", text, "': expected a host and a port from 0 to 65535"));
  }
  address.family = Address::Family::kTcp;
  address.host = std::string(host);
  address.port = static_cast<uint16_t>(port_number);
  return address;
}

absl::StatusOr<std::vector<SocketAddress>> Resolve(const Address& address) {
  std::vector<SocketAddress> result;
  if (address.is_jetstream()) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address.ToString(),
                     "': a JetStream stream, not a socket to listen on or "
                     "connect to"));
  }
  if (address.is_unix()) {
    SocketAddress a;
    auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
    un->sun_family = AF_UNIX;
    if (address.path.size() >= sizeof(un->sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "address '", address.ToString(), "': Unix socket path too long"));
    }
    std::memcpy(un->sun_path, address.path.data(), address.path.size());
    a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                      address.path.size() + 1);
    a.family = AF_UNIX;
    result.push_back(a);
    return result;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string port = std::to_string(address.port);
  int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    return absl::NotFoundError(absl::StrCat("address '", address.ToString(),
                                            "': cannot resolve host: ",
                                            gai_strerror(rc)));
  }
  for (addrinfo* p = list; p != nullptr; p = p->ai_next) {
    if (p->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress a;
    std::memcpy(&a.storage, p->ai_addr, p->ai_addrlen);
    a.length = p->ai_addrlen;
    a.family = p->ai_family;
    result.push_back(a);
  }
  freeaddrinfo(list);
  if (result.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "address '", address.ToString(), "': host resolves to no address"));
  }
  return result;
}

std::string DescribeSocketAddress(const sockaddr* address, socklen_t length) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return absl::StrCat(text, ":", ntohs(in->sin_port));
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return absl::StrCat("[", text, "]:", ntohs(in6->sin6_port));
  }
  if (address->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(address);
    size_t max = length > offsetof(sockaddr_un, sun_path)
                     ? length - offsetof(sockaddr_un, sun_path)
                     : 0;
    return absl::StrCat("unix:", std::string(un->sun_path,
                                              strnlen(un->sun_path, max)));
  }
  return "unknown address";
}

}  // namespace syncstream::net
