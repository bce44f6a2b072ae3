// RunAcceptLoop: the accepting thread of a syncstream server (the host
// collector and the manager share it).
//
//   AcceptLoopCallbacks callbacks;
//   callbacks.on_accept = [&](Listener::AcceptedSocket s) { ... };  // own it
//   callbacks.between = [&] { ReapFinishedConnections(); };
//   callbacks.log = [](absl::string_view line) { ... };
//   std::thread acceptor([&] { RunAcceptLoop(*listener, callbacks); });
//   ...
//   listener->Shutdown();  // RunAcceptLoop returns
//   acceptor.join();
//
// It accepts raw sockets and hands each to `on_accept` (the handshake belongs
// in the connection's own thread). When accepting fails (out of descriptors
// or memory, say with many connections pending), it backs off from 10 ms,
// doubling up to 1 s, until an accept succeeds again: never a hot loop. It
// logs the first failure of such a streak, then at most one line every 10 s
// with the number of failures, and one line when accepting works again.
#ifndef SYNCSTREAM_NET_ACCEPT_LOOP_H_
#define SYNCSTREAM_NET_ACCEPT_LOOP_H_

#include <functional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/net/listener.h"

namespace syncstream::net {

struct AcceptLoopCallbacks {
  // Each accepted socket, in the loop's thread.
  std::function<void(Listener::AcceptedSocket)> on_accept;
  // After every wake-up: an accept, a failure, or at least once a second.
  std::function<void()> between;
  // One whole line per call, without a line break.
  std::function<void(absl::string_view)> log;
  absl::Duration min_backoff = absl::Milliseconds(10);
  absl::Duration max_backoff = absl::Seconds(1);
};

// Runs until `listener` is shut down (Listener::Shutdown()).
void RunAcceptLoop(Listener& listener, const AcceptLoopCallbacks& callbacks);

}  // namespace syncstream::net

#endif  // SYNCSTREAM_NET_ACCEPT_LOOP_H_
