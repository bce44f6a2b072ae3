// LineHostMirror: a LineWriter whose lines go to a LineHostBuffer collector
// over the network.
//
//   LineHostMirrorOptions options;
//   options.writer.name = "worker-3";
//   options.collector = *net::ParseAddress("tcp:collector.example:7700");
//   options.key = *net::AuthKey::Load(key_file);
//   SYNCSTREAM_ASSIGN_OR_RETURN(auto mirror, LineHostMirror::Create(options));
//   mirror->stream() << "step " << i << '\n';      // or Write, ScopedRedirect,
//   mirror->SendWarning("disk almost full");       // ScopedFdCapture, ...
//   SYNCSTREAM_RETURN_IF_ERROR(mirror->Close(absl::Seconds(30)));
//
// The writing side is LineWriter's (syncstream/core/line_writer.h): lines are
// assembled per writer in this process, so partial lines of different
// clients are never glued together.
//
// Sending. Complete records are encoded into batches (up to
// `batch_max_records` / `batch_max_bytes`; the compact encoding of
// host/internal/batch_codec.h) in a bounded send queue; a sender thread
// numbers the batches 1, 2, ... and keeps up to `window` batches in flight
// unacknowledged: no round trip per line. A batch still filling is sent at
// once when nothing is in flight, otherwise when it is full or the
// acknowledgements are in (like Nagle's algorithm): a lone line is not
// delayed, and under load batches fill up. When
// the queue holds `max_queued_records`, a writer blocks up to `block_timeout`
// (then DeadlineExceeded), or with `drop_oldest` the oldest queued batch is
// dropped and a warning record "dropped N lines" is sent in its place.
//
// Delivery. If the connection breaks or the collector restarts, the sender
// reconnects (with backoff) and resends every batch not acknowledged; the
// collector skips those it already holds. No line is lost or duplicated as
// long as the mirror lives until Close() returns OK and the collector keeps
// what it acknowledged (a store, or no restart). A collector restarted without
// its store resumes with the mirror after the last acknowledged batch and
// puts a warning record about the lines it lost in their place.
//
// JetStream. With `collector` a JetStream stream ("nats://HOST:PORT/STREAM",
// net/address.h), there is no collector: each batch is published on the
// mirror's subject "syncstream.STREAM.<writer.name>" with the message id
// "<id()>-<batch number>", one batch at a time (window 1), and a batch is
// acknowledged by JetStream's PubAck. A batch resent after a timeout or a
// reconnection is recognised by its id and stored once, provided it is
// resent within the stream's duplicate window (2 minutes by default). The
// stream must exist (`syncstream stream create`); Create() fails with
// FailedPrecondition saying how to create it otherwise. `key` is unused;
// `jetstream` holds the NATS credentials.
//
// Stop. When the collector stops all mirrors, the mirror's next write (and
// Sync/Close) returns FailedPrecondition "collector ... stopped all mirrors";
// lines not yet stored are discarded. Errors that reconnecting cannot cure
// (wrong key, wrong service) are reported the same way.
#ifndef SYNCSTREAM_HOST_LINE_HOST_MIRROR_H_
#define SYNCSTREAM_HOST_LINE_HOST_MIRROR_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/line_writer.h"
#include "syncstream/nats/credentials.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"

namespace syncstream {

struct LineHostMirrorOptions {
  LineWriterOptions writer;
  net::Address collector;
  net::AuthKey key;
  nats::JetStreamCredentials jetstream;  // for a JetStream `collector`
  size_t batch_max_records = 4096;
  size_t batch_max_bytes = 512 * 1024;
  size_t max_queued_records = 64 * 1024;  // at least 2 * batch_max_records
  bool drop_oldest = false;
  absl::Duration block_timeout = absl::Seconds(30);
  size_t window = 16;  // batches in flight (1 for a JetStream stream)
  absl::Duration connect_timeout = absl::Seconds(5);
  // Create() fails unless the first connection succeeds. When false, only
  // errors that reconnecting cannot cure fail Create(); an unreachable
  // collector is retried in the background while lines queue up.
  bool connect_at_create = true;
  // No acknowledgement for this long with batches in flight: reconnect.
  absl::Duration ack_timeout = absl::Seconds(10);
  absl::Duration max_reconnect_backoff = absl::Seconds(1);
  // The destructor's Close() timeout.
  absl::Duration close_timeout = absl::Seconds(30);
};

// Thread safety: every method may be called from any thread; text written
// by different threads is assembled per thread (line_writer.h).
class LineHostMirror : public LineWriter {
 public:
  struct Stats {
    uint64_t records_accepted = 0;
    uint64_t records_acknowledged = 0;
    uint64_t records_dropped = 0;
    uint64_t batches_sent = 0;      // including resends
    uint64_t batches_resent = 0;
    uint64_t reconnects = 0;
    // The wait before the next reconnect attempt: doubles (up to
    // max_reconnect_backoff) each time connecting fails or a connection ends
    // without an acknowledgement, back to its minimum after one.
    absl::Duration reconnect_backoff;
  };

  // Connects (so that a wrong address or key fails here) and starts the
  // sender thread.
  static absl::StatusOr<std::unique_ptr<LineHostMirror>> Create(
      LineHostMirrorOptions options);
  // Close(options.close_timeout); a failure is reported on stderr.
  ~LineHostMirror() override;

  // Waits until every record published before the call is stored by the
  // collector (or dropped, with drop_oldest).
  absl::Status Sync(absl::Duration timeout);
  // Flushes every writer's partial line, waits until everything is
  // acknowledged, says goodbye and stops the sender. Idempotent.
  absl::Status Close(absl::Duration timeout);

  // The error that ended delivery, if any (OK otherwise).
  absl::Status status() const;
  Stats stats() const;
  // This mirror's id (16 random bytes, hex) as the collector knows it.
  const std::string& id() const;

  class Sender;

 protected:
  absl::Status Publish(const Record& record) override;

 private:
  explicit LineHostMirror(LineHostMirrorOptions options);
  std::unique_ptr<Sender> sender_;
  absl::Duration close_timeout_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_HOST_LINE_HOST_MIRROR_H_
