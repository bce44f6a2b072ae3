// PeerLogLimiter: bounds what a server logs about one peer, so that a client
// opening connection after connection (failing the handshake, sending
// garbage) cannot flood the server's log.
//
//   PeerLogLimiter limiter;  // 10 lines per peer host per 10 s
//   uint64_t held_back;
//   if (limiter.Allow(socket.peer, Now(), &held_back)) log(...);
//
// Peers are counted by host (the port of a TCP peer is left out: each
// connection has its own). Thread-safe.
#ifndef SYNCSTREAM_NET_PEER_LOG_LIMITER_H_
#define SYNCSTREAM_NET_PEER_LOG_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace syncstream::net {

class PeerLogLimiter {
 public:
  explicit PeerLogLimiter(size_t lines_per_window = 10,
                          absl::Duration window = absl::Seconds(10),
                          size_t max_peers = 4096);

  // Whether a line about `peer` ("127.0.0.1:50312", "[::1]:50312",
  // "unix:/path") may be logged at `now`: at most `lines_per_window` per
  // peer host per window. When it may, `*held_back` receives how many lines
  // about that host were refused since the last one allowed (say so in the
  // line).
  bool Allow(absl::string_view peer, absl::Time now, uint64_t* held_back);

  // "127.0.0.1:50312" -> "127.0.0.1", "[::1]:7" -> "[::1]"; others as given.
  static absl::string_view PeerHost(absl::string_view peer);

 private:
  struct PeerState {
    absl::Time window_start;
    size_t lines = 0;
    uint64_t held_back = 0;
  };

  const size_t lines_per_window_;
  const absl::Duration window_;
  const size_t max_peers_;
  std::mutex mutex_;
  std::unordered_map<std::string, PeerState> peers_;
};

}  // namespace syncstream::net

#endif  // SYNCSTREAM_NET_PEER_LOG_LIMITER_H_
