#include "syncstream/net/connection.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/net/internal/peer_user.h"
#include "syncstream/net/internal/proof.h"
#include "syncstream/proto/net.pb.h"

namespace syncstream::net {
namespace {

// Text the peer sent (bytes fields of net.proto), fit for a message: at most
// 200 bytes, anything but printable ASCII as \xHH.
std::string PeerText(absl::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  return out;
}

constexpr char kMagic[] = "syncstream";
constexpr uint32_t kProtocolVersion = 1;
constexpr size_t kReadChunkBytes = kReceiveChunkBytes;
// A receive buffer past this size shrinks once its frame is read.
constexpr size_t kShrinkReceiveBufferAbove = 1 << 20;
// Handshake frames are small; a stray client cannot make us buffer more.
constexpr size_t kMaxHandshakeFrameBytes = 4096;

constexpr char kKeyHint[] =
    "use --auth-key-file or $SYNCSTREAM_AUTH_KEY with the same key on both "
    "sides";

int PollTimeoutMillis(absl::Time deadline) {
  absl::Duration left = TimeLeft(deadline);
  if (left == absl::InfiniteDuration()) return -1;
  // Round up so that a poll never returns before the deadline.
  int64_t ms = absl::ToInt64Milliseconds(left + absl::Microseconds(999));
  return ms > 1000 * 3600 ? 1000 * 3600 : static_cast<int>(ms);
}

// Waits for `events` on `fd` until `deadline`. Returns the revents (0 on
// timeout).
absl::StatusOr<short> PollUntil(int fd, short events, absl::Time deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, PollTimeoutMillis(deadline));
    if (rc > 0) return p.revents;
    if (rc == 0) {
      if (::syncstream::Now() >= deadline) return static_cast<short>(0);
      continue;
    }
    if (errno == EINTR) continue;
    return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
  }
}

void SetSocketOptions(int fd, int family) {
  if (family == AF_INET || family == AF_INET6) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
}

absl::StatusOr<UniqueFd> ConnectSocket(const Address& address,
                                       absl::Time deadline) {
  SYNCSTREAM_ASSIGN_OR_RETURN(std::vector<SocketAddress> targets,
                              Resolve(address));
  std::string last_error = "no address";
  for (const SocketAddress& target : targets) {
    UniqueFd fd(::socket(target.family,
                         SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
      last_error = absl::StrCat("socket: ", std::strerror(errno));
      continue;
    }
    int rc;
    do {
      rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&target.storage),
                     target.length);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == EINPROGRESS) {
      absl::StatusOr<short> ready = PollUntil(fd.get(), POLLOUT, deadline);
      if (!ready.ok()) return ready.status();
      if (*ready == 0) {
        return absl::DeadlineExceededError(absl::StrCat(
            "connect to ", address.ToString(), ": timed out"));
      }
      int error = 0;
      socklen_t length = sizeof(error);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
      rc = error == 0 ? 0 : -1;
      errno = error;
    }
    if (rc != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    SetSocketOptions(fd.get(), target.family);
    return fd;
  }
  return absl::UnavailableError(
      absl::StrCat("connect to ", address.ToString(), ": ", last_error));
}

}  // namespace

Connection::Connection(UniqueFd socket, std::string peer, std::string name,
                       ConnectionOptions options)
    : socket_(std::move(socket)),
      peer_(std::move(peer)),
      name_(std::move(name)),
      options_(std::move(options)),
      max_receive_frame_bytes_(kMaxHandshakeFrameBytes) {}

Connection::~Connection() {
  if (receive_charged_ > 0 ||
      receive_buffer_.capacity() > kShrinkReceiveBufferAbove) {
    receive_begin_ = receive_end_;  // what is left is dropped
    ShrinkReceiveBufferLocked();
  }
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(
    const Address& address, ConnectionOptions options,
    absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  SYNCSTREAM_ASSIGN_OR_RETURN(UniqueFd fd, ConnectSocket(address, deadline));
  std::string name =
      absl::StrCat("connection to ", address.ToString(), " (", options.service,
                   ")");
  std::unique_ptr<Connection> connection(new Connection(
      std::move(fd), address.ToString(), std::move(name), std::move(options)));
  SYNCSTREAM_RETURN_IF_ERROR(connection->ClientHandshake(deadline));
  connection->max_receive_frame_bytes_ = connection->options_.max_frame_bytes;
  return connection;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Accept(
    UniqueFd socket, std::string peer, ConnectionOptions options) {
  const absl::Time deadline = DeadlineAfter(options.handshake_timeout);
  int flags = ::fcntl(socket.get(), F_GETFL);
  if (flags < 0 ||
      ::fcntl(socket.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return absl::InternalError(
        absl::StrCat("connection from ", peer, ": fcntl: ", std::strerror(errno)));
  }
  std::string name =
      absl::StrCat("connection from ", peer, " (", options.service, ")");
  std::unique_ptr<Connection> connection(new Connection(
      std::move(socket), std::move(peer), std::move(name), std::move(options)));
  SYNCSTREAM_RETURN_IF_ERROR(connection->ServerHandshake(deadline));
  connection->max_receive_frame_bytes_ = connection->options_.max_frame_bytes;
  return connection;
}

absl::Status Connection::Error(absl::StatusCode code,
                               absl::string_view what) const {
  return absl::Status(code, absl::StrCat(name_, ": ", what));
}

// --- Handshake -------------------------------------------------------------

absl::Status Connection::ClientHandshake(absl::Time deadline) {
  const bool have_key = !options_.key.empty();
  SYNCSTREAM_ASSIGN_OR_RETURN(std::string client_nonce,
                              internal::RandomNonce());
  proto::ClientHello hello;
  hello.set_magic(kMagic);
  hello.set_version(kProtocolVersion);
  hello.set_service(options_.service);
  hello.set_client_nonce(client_nonce);
  hello.set_client_has_key(have_key);
  SYNCSTREAM_RETURN_IF_ERROR(SendNow(hello, TimeLeft(deadline)));

  proto::ServerHello server_hello;
  absl::Status received = Receive(&server_hello, TimeLeft(deadline));
  if (!received.ok()) {
    return absl::Status(received.code(),
                        absl::StrCat(received.message(),
                                     " (during the handshake: is it a "
                                     "syncstream server?)"));
  }
  if (!server_hello.error().empty()) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("server refused: ",
                              PeerText(server_hello.error())));
  }
  if (server_hello.version() != kProtocolVersion) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("server speaks protocol version ",
                              server_hello.version(), ", this client ",
                              kProtocolVersion));
  }

  // Decide whether the server proved the key (or whether we can proceed).
  std::string refusal;
  absl::Status failure;
  if (server_hello.key_required() && !have_key) {
    refusal = "the client has no key";
    failure = Error(absl::StatusCode::kUnauthenticated,
                    absl::StrCat("authentication failed: the server requires "
                                 "a key and none was given (",
                                 kKeyHint, ")"));
  } else if (have_key && server_hello.server_proof().empty()) {
    refusal = "the client holds a key but the server has none";
    failure = Error(absl::StatusCode::kUnauthenticated,
                    absl::StrCat("authentication failed: peer did not prove "
                                 "knowledge of the key (the server has no "
                                 "key; ",
                                 kKeyHint, ")"));
  } else if (have_key &&
             !internal::ProofsEqual(
                 server_hello.server_proof(),
                 internal::ComputeProof(options_.key, internal::kServerRole,
                                        options_.service, client_nonce,
                                        server_hello.server_nonce()))) {
    refusal = "the server's proof did not match the client's key";
    failure = Error(absl::StatusCode::kUnauthenticated,
                    "authentication failed: peer did not prove knowledge of "
                    "the key (wrong key?)");
  }

  proto::ClientProof proof;
  if (!failure.ok()) {
    proof.set_refusal(refusal);
    SendNow(proof, TimeLeft(deadline)).IgnoreError();
    Shutdown();
    return failure;
  }
  if (have_key) {
    proof.set_client_proof(internal::ComputeProof(
        options_.key, internal::kClientRole, options_.service, client_nonce,
        server_hello.server_nonce()));
  }
  SYNCSTREAM_RETURN_IF_ERROR(SendNow(proof, TimeLeft(deadline)));

  proto::AuthResult result;
  SYNCSTREAM_RETURN_IF_ERROR(Receive(&result, TimeLeft(deadline)));
  if (!result.accepted()) {
    return Error(absl::StatusCode::kUnauthenticated,
                 result.error().empty() ? "authentication failed"
                                        : PeerText(result.error()));
  }
  return absl::OkStatus();
}

absl::Status Connection::ServerHandshake(absl::Time deadline) {
  const bool have_key = !options_.key.empty();
  proto::ClientHello hello;
  {
    absl::Status received = Receive(&hello, TimeLeft(deadline));
    if (!received.ok()) {
      return absl::Status(
          received.code(),
          absl::StrCat(received.message(),
                       " (waiting for the handshake: not a syncstream "
                       "client?)"));
    }
  }
  if (hello.magic() != kMagic) {
    return Error(absl::StatusCode::kDataLoss,
                 "not a syncstream client (wrong magic in the first frame)");
  }
  proto::ServerHello server_hello;
  server_hello.set_version(kProtocolVersion);
  absl::Status refused;
  if (hello.version() != kProtocolVersion) {
    server_hello.set_error(absl::StrCat("the server speaks protocol version ",
                                        kProtocolVersion, ", the client ",
                                        hello.version()));
    refused = Error(absl::StatusCode::kFailedPrecondition, server_hello.error());
  } else if (hello.service() != options_.service) {
    server_hello.set_error(absl::StrCat("this server serves '",
                                        options_.service, "', not '",
                                        PeerText(hello.service()), "'"));
    refused = Error(absl::StatusCode::kFailedPrecondition, server_hello.error());
  }
  if (refused.ok() && !have_key) {
    // Without a key, the only protection is who can connect: serve this
    // user (and root) only, never another local user (Listen() refuses
    // anything but loopback and Unix sockets without a key).
    absl::StatusOr<uid_t> peer_uid = internal::PeerUid(socket_.get());
    if (!peer_uid.ok() ||
        (*peer_uid != ::geteuid() && *peer_uid != 0)) {
      server_hello.set_error(absl::StrCat(
          "this server has no key and serves only its own user (uid ",
          ::geteuid(), "), not ",
          peer_uid.ok() ? absl::StrCat("uid ", *peer_uid)
                        : absl::StrCat("an unknown user (",
                                       peer_uid.status().message(), ")"),
          "; start it with a key to serve other users"));
      refused = Error(absl::StatusCode::kPermissionDenied,
                      server_hello.error());
    }
  }
  if (!refused.ok()) {
    SendNow(server_hello, TimeLeft(deadline)).IgnoreError();
    return refused;
  }

  SYNCSTREAM_ASSIGN_OR_RETURN(std::string server_nonce,
                              internal::RandomNonce());
  server_hello.set_server_nonce(server_nonce);
  server_hello.set_key_required(have_key);
  if (have_key) {
    server_hello.set_server_proof(internal::ComputeProof(
        options_.key, internal::kServerRole, options_.service,
        hello.client_nonce(), server_nonce));
  }
  SYNCSTREAM_RETURN_IF_ERROR(SendNow(server_hello, TimeLeft(deadline)));

  proto::ClientProof proof;
  SYNCSTREAM_RETURN_IF_ERROR(Receive(&proof, TimeLeft(deadline)));
  absl::Status failure;
  if (!proof.refusal().empty()) {
    failure = Error(absl::StatusCode::kUnauthenticated,
                    absl::StrCat("authentication failed: peer did not prove "
                                 "knowledge of the key (it gave up: ",
                                 PeerText(proof.refusal()), ")"));
  } else if (have_key &&
             !internal::ProofsEqual(
                 proof.client_proof(),
                 internal::ComputeProof(options_.key, internal::kClientRole,
                                        options_.service, hello.client_nonce(),
                                        server_nonce))) {
    failure = Error(absl::StatusCode::kUnauthenticated,
                    absl::StrCat("authentication failed: peer did not prove "
                                 "knowledge of the key (",
                                 proof.client_proof().empty() ? "no proof"
                                                              : "wrong key?",
                                 ")"));
  }
  proto::AuthResult result;
  result.set_accepted(failure.ok());
  if (!failure.ok()) {
    result.set_error(
        "authentication failed: peer did not prove knowledge of the key (the "
        "server rejected the client's proof)");
  }
  absl::Status sent = SendNow(result, TimeLeft(deadline));
  if (!failure.ok()) return failure;
  return sent;
}

// --- Sending ---------------------------------------------------------------

absl::Status Connection::Send(const google::protobuf::MessageLite& message,
                              absl::Duration timeout) {
  std::lock_guard<std::mutex> guard(send_mutex_);
  SYNCSTREAM_RETURN_IF_ERROR(AppendLocked(message));
  if (send_buffer_.size() - send_offset_ < options_.send_buffer_bytes) {
    return absl::OkStatus();
  }
  return FlushLocked(DeadlineAfter(timeout));
}

absl::Status Connection::Flush(absl::Duration timeout) {
  std::lock_guard<std::mutex> guard(send_mutex_);
  if (!send_broken_.ok()) return send_broken_;
  return FlushLocked(DeadlineAfter(timeout));
}

absl::Status Connection::SendNow(const google::protobuf::MessageLite& message,
                                 absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  std::lock_guard<std::mutex> guard(send_mutex_);
  SYNCSTREAM_RETURN_IF_ERROR(AppendLocked(message));
  return FlushLocked(deadline);
}

absl::Status Connection::AppendLocked(
    const google::protobuf::MessageLite& message) {
  if (!send_broken_.ok()) return send_broken_;
  absl::Status appended =
      AppendFrame(message, options_.max_frame_bytes, &send_buffer_);
  if (!appended.ok()) {
    return Error(appended.code(), absl::StrCat("cannot send: ",
                                               appended.message()));
  }
  return absl::OkStatus();
}

size_t Connection::pending_send_bytes() const {
  std::lock_guard<std::mutex> guard(send_mutex_);
  return send_buffer_.size() - send_offset_;
}

absl::Status Connection::FlushLocked(absl::Time deadline) {
  while (send_offset_ < send_buffer_.size()) {
    if (shut_down_.load(std::memory_order_acquire)) {
      send_broken_ = Error(absl::StatusCode::kUnavailable, "shut down");
      return send_broken_;
    }
    ssize_t n = ::send(socket_.get(), send_buffer_.data() + send_offset_,
                       send_buffer_.size() - send_offset_,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      send_offset_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (::syncstream::Now() >= deadline) {
        return Error(absl::StatusCode::kDeadlineExceeded,
                     absl::StrCat("send timed out with ",
                                  send_buffer_.size() - send_offset_,
                                  " bytes unsent (peer not reading?)"));
      }
      SYNCSTREAM_ASSIGN_OR_RETURN(short ready,
                                  PollUntil(socket_.get(), POLLOUT, deadline));
      (void)ready;
      continue;
    }
    send_broken_ = Error(absl::StatusCode::kUnavailable,
                         absl::StrCat("send failed: ",
                                      n == 0 ? "no progress"
                                             : std::strerror(errno),
                                      " (peer closed?)"));
    return send_broken_;
  }
  send_buffer_.clear();
  send_offset_ = 0;
  return absl::OkStatus();
}

// --- Receiving -------------------------------------------------------------

absl::Status Connection::Receive(google::protobuf::MessageLite* message,
                                 absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  std::lock_guard<std::mutex> guard(receive_mutex_);
  return ReceiveLocked(message, deadline);
}

absl::Status Connection::ReceiveMerging(
    google::protobuf::MessageLite* message, absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  std::lock_guard<std::mutex> guard(receive_mutex_);
  return ReceiveLocked(message, deadline, /*merge=*/true);
}

bool ReceiveBudget::TryCharge(size_t bytes) {
  size_t held = held_.load(std::memory_order_relaxed);
  do {
    if (bytes > max_bytes_ || held > max_bytes_ - bytes) return false;
  } while (!held_.compare_exchange_weak(held, held + bytes,
                                        std::memory_order_relaxed));
  return true;
}

void Connection::ShrinkReceiveBufferLocked() {
  const bool was_large = receive_buffer_.capacity() > kShrinkReceiveBufferAbove;
  std::string(receive_buffer_.data() + receive_begin_,
              receive_end_ - receive_begin_)
      .swap(receive_buffer_);
  receive_end_ -= receive_begin_;
  receive_begin_ = 0;
  if (options_.receive_budget != nullptr && receive_charged_ > 0) {
    options_.receive_budget->Release(receive_charged_);
  }
  receive_charged_ = 0;
  // Large buffers may have come from the heap rather than a mapping of
  // their own (glibc raises its mmap threshold after freeing one): give the
  // memory back to the system, not only to malloc.
  if (was_large) ::malloc_trim(0);
}

bool Connection::HasBufferedFrame() const {
  std::lock_guard<std::mutex> guard(receive_mutex_);
  absl::string_view buffered(receive_buffer_.data() + receive_begin_,
                             receive_end_ - receive_begin_);
  absl::StatusOr<std::optional<FrameHeader>> header =
      PeekFrameHeader(buffered, max_receive_frame_bytes_.load());
  // A broken frame also counts: Receive returns its error without blocking.
  if (!header.ok()) return true;
  return header->has_value() && buffered.size() >= (*header)->total_bytes();
}

absl::Status Connection::ReceiveLocked(google::protobuf::MessageLite* message,
                                       absl::Time deadline, bool merge) {
  if (!receive_broken_.ok()) return receive_broken_;
  for (;;) {
    absl::string_view buffered(receive_buffer_.data() + receive_begin_,
                               receive_end_ - receive_begin_);
    absl::StatusOr<size_t> used =
        merge ? DecodeFrameMerging(buffered, max_receive_frame_bytes_.load(),
                                   message)
              : DecodeFrame(buffered, max_receive_frame_bytes_.load(), message);
    if (!used.ok()) {
      receive_broken_ = Error(used.status().code(), used.status().message());
      return receive_broken_;
    }
    if (*used > 0) {
      receive_begin_ += *used;
      if (receive_begin_ == receive_end_) {
        receive_begin_ = receive_end_ = 0;
        if (receive_buffer_.size() > kShrinkReceiveBufferAbove) {
          ShrinkReceiveBufferLocked();
        }
      }
      return absl::OkStatus();
    }
    SYNCSTREAM_RETURN_IF_ERROR(FillLocked(deadline));
  }
}

absl::Status Connection::FillLocked(absl::Time deadline) {
  // Make room for a chunk: compact, then grow. The buffer never exceeds one
  // maximal frame plus a chunk because DecodeFrame rejects longer frames
  // before their bodies arrive.
  if (receive_begin_ > 0 &&
      receive_buffer_.size() - receive_end_ < kReadChunkBytes) {
    std::memmove(&receive_buffer_[0], receive_buffer_.data() + receive_begin_,
                 receive_end_ - receive_begin_);
    receive_end_ -= receive_begin_;
    receive_begin_ = 0;
  }
  if (receive_buffer_.size() - receive_end_ < kReadChunkBytes) {
    const size_t size = receive_end_ + kReadChunkBytes;
    // Charge what the buffer would hold beyond its first chunk.
    const size_t charge = size - kReadChunkBytes;
    ReceiveBudget* budget = options_.receive_budget.get();
    if (budget != nullptr && charge > receive_charged_) {
      if (!budget->TryCharge(charge - receive_charged_)) {
        receive_broken_ = Error(
            absl::StatusCode::kResourceExhausted,
            absl::StrCat("a frame of more than ", receive_end_,
                         " bytes does not fit in what remains of the receive "
                         "budget shared by this server's connections (",
                         budget->held(), " of ", budget->max_bytes(),
                         " bytes held)"));
        return receive_broken_;
      }
      receive_charged_ = charge;
    }
    receive_buffer_.resize(size);
  }
  for (;;) {
    if (shut_down_.load(std::memory_order_acquire)) {
      return Error(absl::StatusCode::kUnavailable, "shut down");
    }
    // Waits in recv() (at most blocking_slice_) when the deadline allows.
    const bool block =
        blocking_slice_ > absl::ZeroDuration() &&
        (deadline == absl::InfiniteFuture() ||
         deadline - ::syncstream::Now() >= blocking_slice_);
    ssize_t n = ::recv(socket_.get(), &receive_buffer_[receive_end_],
                       receive_buffer_.size() - receive_end_,
                       block ? 0 : MSG_DONTWAIT);
    if (n > 0) {
      receive_end_ += static_cast<size_t>(n);
      return absl::OkStatus();
    }
    if (n == 0) {
      size_t partial = receive_end_ - receive_begin_;
      receive_broken_ =
          partial == 0
              ? Error(absl::StatusCode::kUnavailable, "closed by peer")
              : Error(absl::StatusCode::kDataLoss,
                      absl::StrCat("closed by peer in the middle of a frame (",
                                   partial, " bytes of it received)"));
      return receive_broken_;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      receive_broken_ = Error(absl::StatusCode::kUnavailable,
                              absl::StrCat("receive failed: ",
                                           std::strerror(errno)));
      return receive_broken_;
    }
    if (::syncstream::Now() >= deadline) {
      return Error(absl::StatusCode::kDeadlineExceeded,
                   "receive timed out");
    }
    if (block) continue;  // a slice passed: recv() again (or poll near the end)
    SYNCSTREAM_ASSIGN_OR_RETURN(short ready,
                                PollUntil(socket_.get(), POLLIN, deadline));
    (void)ready;
  }
}

absl::Status Connection::EnableBlockingReceives(absl::Duration slice) {
  if (slice < absl::Milliseconds(1)) slice = absl::Milliseconds(1);
  const struct timeval tv = absl::ToTimeval(slice);
  const int flags = ::fcntl(socket_.get(), F_GETFL);
  // recv() and send() pass MSG_DONTWAIT wherever they must not block, so
  // only receives that ask to block do.
  if (flags < 0 ||
      ::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) !=
          0 ||
      ::fcntl(socket_.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return Error(absl::StatusCode::kInternal,
                 absl::StrCat("cannot make receives blocking: ",
                              std::strerror(errno)));
  }
  std::lock_guard<std::mutex> guard(receive_mutex_);
  blocking_slice_ = slice;
  return absl::OkStatus();
}

void Connection::Shutdown() {
  if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
  ::shutdown(socket_.get(), SHUT_RDWR);
}

}  // namespace syncstream::net
