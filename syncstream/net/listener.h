// Listener: a listening Unix or TCP socket of a syncstream server.
//
//   ConnectionOptions options;
//   options.service = "host";
//   options.key = key;
//   SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<Listener> listener,
//       Listener::Listen(*ParseAddress("tcp:127.0.0.1:0"), options));
//   listener->address();                        // tcp:127.0.0.1:41234
//   auto socket = listener->AcceptSocket(absl::Seconds(1));  // raw, fast
//   auto connection = Connection::Accept(std::move(socket->fd),
//                                        socket->peer, listener->options());
//
// Servers accept raw sockets in one thread and run the handshake
// (Connection::Accept) in the connection's own thread, so a slow or silent
// client never holds up the others. Accept() does both, for simple users.
//
// Safety: listening on a TCP address that is not loopback without a key is
// refused (FailedPrecondition naming the address). Without a key, a Unix
// socket is made mode 0600 whatever the umask, and Connection::Accept serves
// only peers of this user (and root), on Unix and loopback TCP alike. A Unix socket path that
// exists but has no listener (left by a crashed server) is replaced; one with
// a live listener is AlreadyExists. The path is removed on destruction.
#ifndef SYNCSTREAM_NET_LISTENER_H_
#define SYNCSTREAM_NET_LISTENER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/net/address.h"
#include "syncstream/net/connection.h"

namespace syncstream::net {

class Listener {
 public:
  static absl::StatusOr<std::unique_ptr<Listener>> Listen(
      const Address& address, ConnectionOptions options);

  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Where it listens, with the bound port when port 0 was asked for.
  const Address& address() const { return address_; }
  const ConnectionOptions& options() const { return options_; }

  struct AcceptedSocket {
    UniqueFd fd;
    std::string peer;  // "127.0.0.1:50312", "unix:/path"
  };
  // Waits up to `timeout` for a client. DeadlineExceeded when none came,
  // Cancelled once Shutdown() was called.
  absl::StatusOr<AcceptedSocket> AcceptSocket(absl::Duration timeout);
  // AcceptSocket() then Connection::Accept() (the handshake) in this thread.
  absl::StatusOr<std::unique_ptr<Connection>> Accept(absl::Duration timeout);

  // Wakes AcceptSocket() callers and makes later calls return Cancelled.
  // Thread-safe.
  void Shutdown();
  // Waits up to `timeout` for Shutdown(); returns whether it was called.
  bool WaitForShutdown(absl::Duration timeout);

 private:
  Listener(UniqueFd socket, UniqueFd wakeup, Address address,
           ConnectionOptions options);

  UniqueFd socket_;
  UniqueFd wakeup_;  // eventfd: readable once shut down
  Address address_;
  const ConnectionOptions options_;
};

}  // namespace syncstream::net

#endif  // SYNCSTREAM_NET_LISTENER_H_
