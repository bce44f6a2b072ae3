// Arbitrary bytes as what a network peer sends: (1) a stream of frames decoded
// as each message type the transport and the host protocol read, with small
// and large frame limits; (2) the first bytes a server's handshake reads from
// a new client, over a real socket pair, with and without a key. Nothing may
// crash, hang or allocate what a length prefix merely claims; a handshake
// driven by garbage must fail.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/net/connection.h"
#include "syncstream/net/frame.h"
#include "syncstream/proto/host.pb.h"
#include "syncstream/proto/net.pb.h"

namespace {

template <typename Message>
void DecodeStream(absl::string_view bytes, size_t max_frame_bytes) {
  Message message;
  while (!bytes.empty()) {
    absl::StatusOr<size_t> used =
        syncstream::net::DecodeFrame(bytes, max_frame_bytes, &message);
    if (!used.ok() || *used == 0) return;
    if (*used > bytes.size()) std::abort();
    // A decoded frame re-encodes within the limit.
    std::string again;
    if (!syncstream::net::AppendFrame(message, max_frame_bytes, &again).ok()) {
      std::abort();
    }
    bytes.remove_prefix(*used);
  }
}

void ServerHandshake(absl::string_view bytes, bool with_key) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
  syncstream::UniqueFd client(fds[0]);
  syncstream::UniqueFd server(fds[1]);
  // Socket pairs buffer far more than a fuzz input; never blocks.
  if (bytes.size() > 64 * 1024) bytes = bytes.substr(0, 64 * 1024);
  if (!bytes.empty() &&
      ::send(client.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(bytes.size())) {
    return;
  }
  ::shutdown(client.get(), SHUT_WR);
  syncstream::net::ConnectionOptions options;
  options.service = "host";
  options.handshake_timeout = absl::Seconds(5);
  if (with_key) {
    options.key = *syncstream::net::AuthKey::FromBytes("fuzz-key-0123456789");
  }
  absl::StatusOr<std::unique_ptr<syncstream::net::Connection>> accepted =
      syncstream::net::Connection::Accept(std::move(server), "fuzz",
                                          std::move(options));
  // Without a key a client could in principle complete the handshake (the
  // server's nonce is random, so the bytes cannot hold a valid proof); with
  // a key, garbage must never pass.
  if (with_key && accepted.ok()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (size_t limit : {size_t{64}, size_t{4096}, size_t{1} << 20}) {
    DecodeStream<syncstream::proto::ClientHello>(bytes, limit);
    DecodeStream<syncstream::proto::ServerHello>(bytes, limit);
    DecodeStream<syncstream::proto::ClientProof>(bytes, limit);
    DecodeStream<syncstream::proto::HostRequest>(bytes, limit);
    DecodeStream<syncstream::proto::HostReply>(bytes, limit);
  }
  ServerHandshake(bytes, /*with_key=*/false);
  ServerHandshake(bytes, /*with_key=*/true);
  return 0;
}
