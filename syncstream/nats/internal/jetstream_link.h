// A LineHostMirror's link (host/internal/mirror_link.h) to a JetStream
// stream: each batch is published on the mirror's own subject with
// Nats-Msg-Id "<mirror id>-<batch number>", and each PubAck becomes an
// acknowledgement of that batch.
#ifndef SYNCSTREAM_NATS_INTERNAL_JETSTREAM_LINK_H_
#define SYNCSTREAM_NATS_INTERNAL_JETSTREAM_LINK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/host/internal/mirror_link.h"
#include "syncstream/nats/credentials.h"
#include "syncstream/nats/jetstream_address.h"

namespace syncstream::nats::internal {

struct JetStreamLinkOptions {
  std::string mirror_id;  // 32 lowercase hex digits
  std::string sender;     // the mirror's name: its subject
  absl::Duration connect_timeout = absl::Seconds(5);
};

// Connects and checks that the stream exists (FailedPrecondition saying how
// to create it if not). Errors as internal/client.h.
absl::StatusOr<std::unique_ptr<host::internal::MirrorLink>>
ConnectJetStreamLink(const JetStreamAddress& address,
                     const JetStreamCredentials& credentials,
                     const JetStreamLinkOptions& options);

}  // namespace syncstream::nats::internal

#endif  // SYNCSTREAM_NATS_INTERNAL_JETSTREAM_LINK_H_
