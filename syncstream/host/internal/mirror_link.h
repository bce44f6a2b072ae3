// MirrorLink: where a LineHostMirror's sender thread sends its batches and
// reads their acknowledgements. The sender (line_host_mirror.cc) owns the
// queue, the batch numbers, the window and the resending; a link only
// carries batches one way and acknowledgements back:
//  - a collector's (LineHostBuffer) net::Connection, after the mirror's
//    hello (CollectorLink in line_host_mirror.cc);
//  - a NATS JetStream stream (syncstream/nats/internal/jetstream_link.h),
//    which stores batches one at a time (window 1) and answers each with an
//    acknowledgement of its own.
//
// A link is made connected and is not reused after an error: the sender
// drops it and connects a new one, then resends what is unacknowledged.
// Thread safety: used by the sender thread only.
#ifndef SYNCSTREAM_HOST_INTERNAL_MIRROR_LINK_H_
#define SYNCSTREAM_HOST_INTERNAL_MIRROR_LINK_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "syncstream/proto/host.pb.h"

namespace syncstream::host::internal {

class MirrorLink {
 public:
  virtual ~MirrorLink() = default;

  // Queues `request` (a MirrorBatch) for sending; Flush sends what is
  // queued. Errors end the link.
  virtual absl::Status Send(const proto::HostRequest& request,
                            absl::Duration timeout) = 0;
  virtual absl::Status Flush(absl::Duration timeout) = 0;
  // The next reply (an Ack, or a Failure), waiting up to `timeout`:
  // DeadlineExceeded when none arrived; other errors end the link.
  virtual absl::Status Receive(proto::HostReply* reply,
                               absl::Duration timeout) = 0;
  // Whether Receive would return a reply without waiting.
  virtual bool HasBufferedReply() const = 0;
  // A descriptor that poll(2) reports readable when a reply may be ready.
  virtual int fd() const = 0;
  // Ends the link politely (best effort, bounded by a second).
  virtual void Goodbye() = 0;
};

}  // namespace syncstream::host::internal

#endif  // SYNCSTREAM_HOST_INTERNAL_MIRROR_LINK_H_
