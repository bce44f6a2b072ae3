#include "syncstream/net/peer_log_limiter.h"

#include "absl/strings/ascii.h"

namespace syncstream::net {

PeerLogLimiter::PeerLogLimiter(size_t lines_per_window, absl::Duration window,
                               size_t max_peers)
    : lines_per_window_(lines_per_window),
      window_(window),
      max_peers_(max_peers) {}

absl::string_view PeerLogLimiter::PeerHost(absl::string_view peer) {
  if (peer.substr(0, 5) == "unix:") return peer;
  const size_t colon = peer.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == peer.size()) {
    return peer;
  }
  for (char c : peer.substr(colon + 1)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return peer;
  }
  absl::string_view host = peer.substr(0, colon);
  // A bare IPv6 address has colons of its own: only "[addr]:port" has a port.
  if (host.find(':') != absl::string_view::npos && host.back() != ']') {
    return peer;
  }
  return host;
}

bool PeerLogLimiter::Allow(absl::string_view peer, absl::Time now,
                           uint64_t* held_back) {
  std::lock_guard<std::mutex> guard(mutex_);
  const std::string host(PeerHost(peer));
  auto it = peers_.find(host);
  if (it == peers_.end()) {
    if (peers_.size() >= max_peers_) {
      // Forget peers whose window ended (their held-back counts are lost:
      // a bounded table matters more than an exact count).
      for (auto p = peers_.begin(); p != peers_.end();) {
        p = now - p->second.window_start >= window_ ? peers_.erase(p)
                                                     : std::next(p);
      }
      if (peers_.size() >= max_peers_) peers_.clear();
    }
    it = peers_.emplace(host, PeerState{now, 0, 0}).first;
  }
  PeerState& state = it->second;
  if (now - state.window_start >= window_) {
    state.window_start = now;
    state.lines = 0;
  }
  if (state.lines >= lines_per_window_) {
    ++state.held_back;
    return false;
  }
  ++state.lines;
  *held_back = state.held_back;
  state.held_back = 0;
  return true;
}

}  // namespace syncstream::net
