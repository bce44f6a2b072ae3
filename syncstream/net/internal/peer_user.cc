#include "syncstream/net/internal/peer_user.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace syncstream::net::internal {
namespace {

// An endpoint as /proc/net/tcp prints it: the address's 32-bit words as they
// are in memory, each as %08X, then ':' and the port as %04X.
std::string ProcEndpoint(const sockaddr_storage& address) {
  std::string out;
  uint16_t port;
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    uint32_t word;
    std::memcpy(&word, &in->sin_addr, 4);
    out = absl::StrFormat("%08X", word);
    port = ntohs(in->sin_port);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    for (int i = 0; i < 4; ++i) {
      uint32_t word;
      std::memcpy(&word, reinterpret_cast<const char*>(&in6->sin6_addr) + 4 * i,
                  4);
      absl::StrAppendFormat(&out, "%08X", word);
    }
    port = ntohs(in6->sin6_port);
  }
  absl::StrAppendFormat(&out, ":%04X", port);
  return out;
}

}  // namespace

absl::StatusOr<uid_t> PeerUid(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    return absl::InternalError(
        absl::StrCat("getsockname: ", std::strerror(errno)));
  }
  if (local.ss_family == AF_UNIX) {
    ucred credentials{};
    socklen_t size = sizeof(credentials);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
      return absl::InternalError(
          absl::StrCat("SO_PEERCRED: ", std::strerror(errno)));
    }
    return credentials.uid;
  }
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) {
    return absl::InvalidArgumentError("not a Unix or TCP socket");
  }
  sockaddr_storage peer{};
  length = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) {
    return absl::InternalError(
        absl::StrCat("getpeername: ", std::strerror(errno)));
  }
  // The peer's socket: local end = our peer, remote end = us.
  const std::string peer_end = ProcEndpoint(peer);
  const std::string our_end = ProcEndpoint(local);
  const char* table =
      local.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 8) continue;
    if (fields[1] != peer_end || fields[2] != our_end) continue;
    uint32_t uid;
    if (!absl::SimpleAtoi(fields[7], &uid)) break;
    return static_cast<uid_t>(uid);
  }
  return absl::NotFoundError(absl::StrCat("the peer's socket (", peer_end,
                                          ") is not in ", table));
}

}  // namespace syncstream::net::internal
