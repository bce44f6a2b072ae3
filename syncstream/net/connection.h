// Connection: one authenticated, framed stream of protobuf messages over a
// Unix or TCP socket.
//
//   ConnectionOptions options;
//   options.service = "host";
//   SYNCSTREAM_ASSIGN_OR_RETURN(options.key, AuthKey::Load(key_file));
//   SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<Connection> c,
//       Connection::Connect(address, options, absl::Seconds(5)));
//   SYNCSTREAM_RETURN_IF_ERROR(c->Send(batch, absl::Seconds(5)));   // buffered
//   SYNCSTREAM_RETURN_IF_ERROR(c->Flush(absl::Seconds(5)));         // one syscall
//   SYNCSTREAM_RETURN_IF_ERROR(c->Receive(&ack, absl::Seconds(5)));
//
// Handshake. Connect() and Accept() first run the handshake of
// syncstream/proto/net.proto: the client names the service it wants ("host",
// "manager"); if either side holds a key (AuthKey), both prove knowledge of it
// with HMAC-SHA256 over two fresh 32-byte nonces (server first; proofs
// compared in constant time). A wrong, missing or unexpected key fails on
// both sides with Unauthenticated "authentication failed: ...". Both sides
// must hold the same key or both none.
//
// A server without a key serves only peers of its own user (and root): other
// local users are refused (PermissionDenied on the server, FailedPrecondition
// "server refused: ..." on the client).
//
// Frames. Each message is one frame (frame.h), at most
// `max_frame_bytes`. An oversized or malformed incoming frame is an error
// (ResourceExhausted / DataLoss naming the sizes) that breaks the receiving
// side: the stream cannot be resynchronised, so close the connection.
//
// Batching. Send() appends the frame to a send buffer and writes only once
// `send_buffer_bytes` are buffered; Flush() writes the rest. Many small
// messages thus share one syscall. SendNow() is Send() + Flush().
//
// Deadlines. Every blocking call takes a timeout (absl::ZeroDuration() = do
// not wait, absl::InfiniteDuration() = forever) and returns DeadlineExceeded
// when it passes. A timeout never tears a frame: a partly received frame
// stays buffered for the next Receive(), a partly written buffer is finished
// by the next Send()/Flush(). So a request/response protocol can time out one
// call and go on (matching replies to requests by its own request ids).
//
// Errors. A peer that closed is Unavailable ("closed by peer"); a reset or
// any socket error is Unavailable with the cause. Messages name the peer:
// "connection to tcp:127.0.0.1:4000 (host): ...".
//
// Threads. One thread may Receive() while another Sends/Flushes (the two
// directions have their own buffers and locks); calls in the same direction
// are serialised. Shutdown() from any thread wakes both.
#ifndef SYNCSTREAM_NET_CONNECTION_H_
#define SYNCSTREAM_NET_CONNECTION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"
#include "syncstream/net/frame.h"

namespace syncstream::net {

// The bytes that the receive buffers of a set of connections (a server's)
// may hold at once in frames not yet read whole. Each connection reads into
// a first chunk of kReceiveChunkBytes of its own; only what a buffer grows
// beyond that (a frame longer than a chunk, while it arrives) is charged.
// Thread safety: thread-safe.
class ReceiveBudget {
 public:
  explicit ReceiveBudget(size_t max_bytes) : max_bytes_(max_bytes) {}
  // Charges `bytes` if they fit under max_bytes() with what is held.
  bool TryCharge(size_t bytes);
  void Release(size_t bytes) {
    held_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  size_t held() const { return held_.load(std::memory_order_relaxed); }
  size_t max_bytes() const { return max_bytes_; }

 private:
  const size_t max_bytes_;
  std::atomic<size_t> held_{0};
};

// A connection's first receive chunk, never charged to a ReceiveBudget.
inline constexpr size_t kReceiveChunkBytes = 64 * 1024;
// The budget Listener::Listen gives a server's connections when its options
// name none.
inline constexpr size_t kDefaultServerReceiveBudgetBytes = 256 << 20;

struct ConnectionOptions {
  // What the client asks for and the server serves; must match.
  std::string service = "syncstream";
  // Shared key; empty = no authentication (Unix and loopback only).
  AuthKey key;
  // Largest frame accepted or sent.
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
  // Send() writes once this many bytes are buffered.
  size_t send_buffer_bytes = 256 * 1024;
  // Server side: how long a new peer has to complete the handshake.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // The budget this connection's receive buffer shares with others (see
  // ReceiveBudget); null: bounded by max_frame_bytes alone. A frame that
  // does not fit breaks the connection's receiving with ResourceExhausted
  // naming the budget. A buffer grown past 1 MiB shrinks back to its first
  // chunk, returning its charge and its memory, once its frame is read; a
  // closed connection returns all.
  std::shared_ptr<ReceiveBudget> receive_budget;
};

class Connection {
 public:
  // Connects to `address` and runs the client handshake, all within
  // `timeout`. Unavailable if nothing listens, Unauthenticated on a key
  // mismatch, FailedPrecondition if the server serves another service.
  static absl::StatusOr<std::unique_ptr<Connection>> Connect(
      const Address& address, ConnectionOptions options,
      absl::Duration timeout);

  // Takes an accepted socket (Listener::AcceptSocket) and runs the server
  // handshake within options.handshake_timeout. `peer` names the client in
  // messages. A failed handshake answers the client with the reason (when it
  // is a syncstream client) and returns the error.
  static absl::StatusOr<std::unique_ptr<Connection>> Accept(
      UniqueFd socket, std::string peer, ConnectionOptions options);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Buffers `message` as one frame; writes when the buffer is full.
  // ResourceExhausted (nothing buffered, connection still usable) if the
  // message exceeds max_frame_bytes.
  absl::Status Send(const google::protobuf::MessageLite& message,
                    absl::Duration timeout);
  // Writes everything buffered.
  absl::Status Flush(absl::Duration timeout);
  absl::Status SendNow(const google::protobuf::MessageLite& message,
                       absl::Duration timeout);
  // Bytes buffered and not yet written.
  size_t pending_send_bytes() const;

  // Receives the next frame into `message` (cleared first).
  absl::Status Receive(google::protobuf::MessageLite* message,
                       absl::Duration timeout);
  // As Receive, but merges the frame into `message` without clearing it
  // (DecodeFrameMerging): for hot receive loops that clear only what they
  // reuse, so that parsing a batch does not allocate its records again.
  absl::Status ReceiveMerging(google::protobuf::MessageLite* message,
                              absl::Duration timeout);
  // Whether a complete frame is already buffered (Receive would not block).
  bool HasBufferedFrame() const;

  // Blocking receives, for request/response protocols whose next frame is
  // rarely buffered yet (the manager): a Receive that has to wait first
  // reads, finds nothing, polls and reads again (three syscalls). After
  // this, a Receive whose deadline is at least `slice` away (or infinite)
  // waits inside recv() itself, `slice` at a time (SO_RCVTIMEO), so one
  // syscall receives the frame; nearer deadlines wait as before. Sends stay
  // non-blocking; Shutdown() still wakes a waiting Receive. Call it before
  // any Receive that may run concurrently.
  absl::Status EnableBlockingReceives(absl::Duration slice);
  bool blocking_receives() const {
    return blocking_slice_ > absl::ZeroDuration();
  }

  // Shuts the socket down in both directions: blocked and later calls fail
  // (Unavailable). Thread-safe, idempotent.
  void Shutdown();

  // "connection to tcp:127.0.0.1:4000 (host)" or "connection from ...".
  const std::string& name() const { return name_; }
  const std::string& peer() const { return peer_; }
  const ConnectionOptions& options() const { return options_; }
  // For epoll/poll-based servers: readable means Receive may progress.
  int fd() const { return socket_.get(); }

 private:
  Connection(UniqueFd socket, std::string peer, std::string name,
             ConnectionOptions options);

  absl::Status ClientHandshake(absl::Time deadline);
  absl::Status ServerHandshake(absl::Time deadline);

  // Frames `message` into the send buffer (send_mutex_ held); fails if the
  // connection is broken or the message exceeds max_frame_bytes.
  absl::Status AppendLocked(const google::protobuf::MessageLite& message);
  absl::Status FlushLocked(absl::Time deadline);
  absl::Status ReceiveLocked(google::protobuf::MessageLite* message,
                             absl::Time deadline, bool merge = false);
  // Reads what the socket has (waiting until `deadline` if nothing).
  absl::Status FillLocked(absl::Time deadline);
  absl::Status Error(absl::StatusCode code, absl::string_view what) const;

  UniqueFd socket_;
  const std::string peer_;
  const std::string name_;
  const ConnectionOptions options_;
  std::atomic<bool> shut_down_{false};
  // Handshake frames are tiny; the full limit applies once it is done.
  std::atomic<size_t> max_receive_frame_bytes_;

  mutable std::mutex send_mutex_;
  std::string send_buffer_;
  size_t send_offset_ = 0;  // bytes of send_buffer_ already written
  absl::Status send_broken_;

  mutable std::mutex receive_mutex_;
  std::string receive_buffer_;
  size_t receive_begin_ = 0;  // first unconsumed byte
  size_t receive_end_ = 0;    // end of valid bytes
  // Bytes of receive_buffer_ charged to options_.receive_budget.
  size_t receive_charged_ = 0;
  // Returns receive_buffer_ to its first chunk and its charge to the budget.
  void ShrinkReceiveBufferLocked();
  absl::Status receive_broken_;
  // Set once by EnableBlockingReceives, before concurrent use.
  absl::Duration blocking_slice_ = absl::ZeroDuration();
};

}  // namespace syncstream::net

#endif  // SYNCSTREAM_NET_CONNECTION_H_
