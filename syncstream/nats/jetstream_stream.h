// Setting up, inspecting and removing the JetStream stream that mirrors
// publish to and readers read (what `syncstream stream create|info|rm` do).
//
//   JetStreamStreamSettings settings;
//   settings.max_lines = 1000000;
//   settings.replicas = 3;
//   SYNCSTREAM_ASSIGN_OR_RETURN(JetStreamStreamInfo info,
//       CreateJetStreamStream(address, credentials, settings));
//
// The stream takes the subjects "syncstream.STREAM.>" (one per sender, see
// jetstream_address.h) into file storage, and recognises a batch that a
// mirror resends within `duplicate_window` by its Nats-Msg-Id.
//
// Retention: JetStream counts messages, and each message is one batch of one
// or more lines, so `max_lines` caps the stream at that many batches: the
// last `max_lines` lines are always kept (readers give exactly the last N
// asked for), and older whole batches beyond them may be kept too. Set
// `max_bytes` or `max_age` to bound the storage itself.
//
// Every function takes a timeout for the whole call. Functions are
// thread-safe (each uses a connection of its own).
#ifndef SYNCSTREAM_NATS_JETSTREAM_STREAM_H_
#define SYNCSTREAM_NATS_JETSTREAM_STREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/nats/credentials.h"
#include "syncstream/nats/jetstream_address.h"

namespace syncstream::nats {

struct JetStreamStreamSettings {
  uint64_t max_lines = 0;                     // required, at least 1
  int replicas = 1;                           // 1-5
  absl::Duration max_age = absl::ZeroDuration();  // zero: unlimited
  int64_t max_bytes = -1;                     // -1: unlimited
  absl::Duration duplicate_window = absl::Minutes(2);
};

struct JetStreamStreamInfo {
  std::string name;
  std::string subjects;         // "syncstream.STREAM.>" when ours
  uint64_t max_lines = 0;       // the stream's message limit
  int replicas = 0;
  absl::Duration max_age = absl::ZeroDuration();
  int64_t max_bytes = -1;
  absl::Duration duplicate_window = absl::ZeroDuration();
  uint64_t messages = 0;        // batches held
  uint64_t bytes = 0;
  uint64_t first_sequence = 0;  // stream sequences of the batches held
  uint64_t last_sequence = 0;
  std::string leader;           // the server leading it ("" unclustered)
  std::vector<std::string> replicas_current;  // followers caught up

  // Several lines, "name: value", for `syncstream stream info`.
  std::string ToString() const;
};

// Creates the stream. AlreadyExists when a stream of that name exists,
// InvalidArgument for bad settings (replicas beyond the cluster's size
// included), Unavailable/DeadlineExceeded when no server answers,
// Unauthenticated when the credentials are refused.
absl::StatusOr<JetStreamStreamInfo> CreateJetStreamStream(
    const JetStreamAddress& address, const JetStreamCredentials& credentials,
    const JetStreamStreamSettings& settings,
    absl::Duration timeout = absl::Seconds(10));

// The stream's settings and state; FailedPrecondition (saying how to create
// it) when it does not exist, other errors as above.
absl::StatusOr<JetStreamStreamInfo> GetJetStreamStreamInfo(
    const JetStreamAddress& address, const JetStreamCredentials& credentials,
    absl::Duration timeout = absl::Seconds(10));

// Deletes the stream and every line in it; NotFound when it does not exist.
absl::Status DeleteJetStreamStream(const JetStreamAddress& address,
                                   const JetStreamCredentials& credentials,
                                   absl::Duration timeout = absl::Seconds(10));

}  // namespace syncstream::nats

#endif  // SYNCSTREAM_NATS_JETSTREAM_STREAM_H_
