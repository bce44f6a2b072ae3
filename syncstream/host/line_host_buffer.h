// LineHostBuffer: the collector of lines that hosts send over the network.
//
// Each client (a LineHostMirror) keeps one framed connection, authenticated
// with a shared key, and sends its lines assembled per writer (never glued
// across clients) in acknowledged batches, which survive a collector restart
// with a store directory.
//
//   LineHostBufferOptions options;
//   options.listen = *net::ParseAddress("tcp:127.0.0.1:0");
//   options.maxlen = 10000;
//   options.key = *net::AuthKey::Load(key_file);
//   options.store_dir = "/var/lib/collector";      // optional: durable
//   SYNCSTREAM_ASSIGN_OR_RETURN(auto buffer, LineHostBuffer::Start(options));
//   buffer->address();              // where mirrors and readers connect
//   buffer->Read(10);               // the last 10 records, also over the
//                                   // network with LineHostReader
//
// Clients: LineHostMirror (line_host_mirror.h) writes, LineHostReader
// (line_host_reader.h) reads, follows, clears, stops and resets.
//
// Delivery. Each mirror numbers its batches 1, 2, ...; the collector stores a
// batch once, acknowledges it, and skips a resent batch it already holds, so
// a mirror that reconnects after a lost connection or a collector restart
// delivers every line exactly once. With `store_dir`, what was acknowledged
// is in the store's log before the acknowledgement leaves (one write(); with
// `sync_store` also fdatasync), and Start() restores the last `maxlen`
// records, the stopped state and every mirror's progress from it.
//
// States: StopAllMirrors() refuses further
// batches, and every mirror reports it as a status on its next write;
// ResetStates() reopens and clears; Clear() forgets the records held.
//
// Robustness. A thread per connection, at most `max_connections`
// authenticated ones plus `max_handshaking_connections` in their handshake;
// each
// connection buffers at most one frame (`max_frame_bytes`). A malformed or
// oversized frame, a failed handshake, a protocol violation or a client idle
// for `idle_timeout` (or not reading replies for `io_timeout`) closes that
// connection with a reason passed to `log`; nothing a client sends can crash
// the collector or make it allocate more than a frame.
#ifndef SYNCSTREAM_HOST_LINE_HOST_BUFFER_H_
#define SYNCSTREAM_HOST_LINE_HOST_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/record.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"

namespace syncstream {

struct LineHostBufferOptions {
  // Where to listen; loopback with an ephemeral port by default. A
  // non-loopback TCP address needs a key.
  net::Address listen = DefaultListenAddress();
  net::AuthKey key;
  // The N of "the last N records".
  size_t maxlen = 10000;
  // Durable store directory ("" = memory only) and whether every batch is
  // fdatasync'ed before it is acknowledged (survives power loss, slower).
  std::string store_dir;
  bool sync_store = false;
  // Rewrite the store's log once this many records were logged since the
  // last rewrite (0: max(4 * maxlen, 65536)).
  size_t compact_after_records = 0;
  // Authenticated connections; one more is refused after its handshake.
  size_t max_connections = 1024;
  // Connections still in their handshake (not authenticated yet) count
  // apart: beyond this many, the oldest of them is dropped for the new one,
  // so idle or slow unauthenticated peers never hold off the others.
  size_t max_handshaking_connections = 64;
  // With `store_dir`, at most the store's entry limit (a little under 16 MiB).
  size_t max_frame_bytes = 16 << 20;
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Minutes(10);
  absl::Duration io_timeout = absl::Seconds(30);
  // Mirrors remembered for duplicate detection after they said goodbye is
  // none; this caps those that vanished without one.
  size_t max_mirrors_remembered = 100000;
  // Connection errors and store recovery notes ("" prefix added by the
  // caller). Default: stderr.
  std::function<void(absl::string_view)> log;

  static net::Address DefaultListenAddress() {
    net::Address address;
    address.host = "127.0.0.1";
    return address;
  }
};

// Thread safety: every method may be called from any thread.
class LineHostBuffer {
 public:
  struct Stats {
    uint64_t connections_accepted = 0;
    uint64_t connections_refused = 0;  // handshake, protocol, limits
    uint64_t batches_stored = 0;
    uint64_t duplicate_batches = 0;    // resent batches already held
    uint64_t records_stored = 0;
    uint64_t active_connections = 0;
  };

  // Opens the store (if any), listens and serves on background threads.
  static absl::StatusOr<std::unique_ptr<LineHostBuffer>> Start(
      LineHostBufferOptions options);
  // Shutdown().
  ~LineHostBuffer();
  LineHostBuffer(const LineHostBuffer&) = delete;
  LineHostBuffer& operator=(const LineHostBuffer&) = delete;

  // The bound address (with the actual port).
  const net::Address& address() const;
  size_t maxlen() const;

  std::vector<Record> Read() const;
  std::vector<Record> Read(size_t n) const;
  size_t Size() const;
  void Clear();
  void StopAllMirrors();
  void ResetStates();
  bool stopped() const;

  Stats stats() const;

  // Stops accepting, closes every connection and joins the threads. Records
  // stay readable. Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit LineHostBuffer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_HOST_LINE_HOST_BUFFER_H_
