// The stream look-up shared by the mirror link, the reader and stream
// administration.
#ifndef SYNCSTREAM_NATS_INTERNAL_STREAM_INFO_H_
#define SYNCSTREAM_NATS_INTERNAL_STREAM_INFO_H_

#include "absl/status/statusor.h"
#include "syncstream/nats/internal/client.h"
#include "syncstream/nats/jetstream_stream.h"

namespace syncstream::nats::internal {

// The info of the client's stream. FailedPrecondition (StreamMissing) when
// it does not exist; FailedPrecondition too when it does not take the
// subjects "syncstream.STREAM.>" (not a syncstream stream).
absl::StatusOr<JetStreamStreamInfo> LookUpStream(Client& client);

}  // namespace syncstream::nats::internal

#endif  // SYNCSTREAM_NATS_INTERNAL_STREAM_INFO_H_
