// PeerUid: the user id of the process at the other end of a connected local
// socket, so that a server without a key serves only its own user.
#ifndef SYNCSTREAM_NET_INTERNAL_PEER_USER_H_
#define SYNCSTREAM_NET_INTERNAL_PEER_USER_H_

#include <sys/types.h>

#include "absl/status/statusor.h"

namespace syncstream::net::internal {

// Unix sockets: SO_PEERCRED. Loopback TCP (IPv4 and IPv6): the owner of the
// peer's socket as /proc/net/tcp{,6} lists it (the socket whose local end is
// our peer and whose remote end is us). NotFound when the peer's socket is
// not listed (it is not on this host, or is gone already).
absl::StatusOr<uid_t> PeerUid(int fd);

}  // namespace syncstream::net::internal

#endif  // SYNCSTREAM_NET_INTERNAL_PEER_USER_H_
