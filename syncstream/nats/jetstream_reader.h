// JetStreamReader: reads and follows the lines that LineHostMirrors publish
// to a JetStream stream (see jetstream_address.h, jetstream_stream.h).
// LineHostReader uses it for "nats://" addresses; it can be used directly
// too:
//
//   SYNCSTREAM_ASSIGN_OR_RETURN(auto reader,
//       JetStreamReader::Connect(address, credentials, absl::Seconds(5)));
//   SYNCSTREAM_ASSIGN_OR_RETURN(std::vector<Record> last, reader->Read(10));
//   SYNCSTREAM_ASSIGN_OR_RETURN(auto follower, reader->Follow(10));
//   for (;;) {
//     absl::StatusOr<std::vector<Record>> more = follower->Next(absl::Seconds(1));
//     ...  // DeadlineExceeded: nothing new yet
//   }
//
// Order: the stream's order (the order JetStream stored the batches in);
// each sender's lines in the order it wrote them. Exactly once: a batch that
// a mirror resent and that the stream nevertheless stored twice is given
// once (the reader remembers each mirror's last batch number).
//
// Trust: every message is checked before a record of it is given: its
// Nats-Msg-Id and its batch (host/internal/batch_codec.h). A message that
// fails is reported as DataLoss naming its stream sequence.
//
// A follower resumes by stream sequence: it delivers each stored batch once,
// in order, across reconnections and a change of stream leader (the C
// client's ordered consumer recreates itself where it stopped; the follower
// also skips any sequence it has already delivered). next_sequence() is
// where a new follower (FollowFrom) would continue.
//
// Thread safety: a reader or a follower is used by one thread at a time.
#ifndef SYNCSTREAM_NATS_JETSTREAM_READER_H_
#define SYNCSTREAM_NATS_JETSTREAM_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/record.h"
#include "syncstream/nats/credentials.h"
#include "syncstream/nats/jetstream_address.h"
#include "syncstream/nats/jetstream_stream.h"

namespace syncstream::nats {

namespace internal {
class Client;
}  // namespace internal

class JetStreamFollower;

class JetStreamReader {
 public:
  // Connects and checks the stream exists (FailedPrecondition saying how to
  // create it if not). Errors as jetstream_stream.h.
  static absl::StatusOr<std::unique_ptr<JetStreamReader>> Connect(
      const JetStreamAddress& address, const JetStreamCredentials& credentials,
      absl::Duration timeout);
  ~JetStreamReader();

  // The last `n` records held (every record held for n == 0), oldest first.
  // `*next_sequence`, if given, becomes the stream sequence after the last
  // batch read.
  absl::StatusOr<std::vector<Record>> Read(
      size_t n, absl::Duration timeout = absl::Seconds(30),
      uint64_t* next_sequence = nullptr);
  absl::StatusOr<JetStreamStreamInfo> Info();
  // Removes every batch from the stream (JetStream purge).
  absl::Status Clear();

  // A follower whose first Next() gives the last `last` records (every
  // record held for kAll), then every record stored after them.
  static constexpr size_t kAll = static_cast<size_t>(-1);
  absl::StatusOr<std::unique_ptr<JetStreamFollower>> Follow(
      size_t last, absl::Duration timeout = absl::Seconds(30));
  // A follower from stream sequence `sequence` on (1: the beginning).
  absl::StatusOr<std::unique_ptr<JetStreamFollower>> FollowFrom(
      uint64_t sequence);

  // From now on, Read, Follow and FollowFrom give only the batches of the
  // mirror named `mirror` (its LineHostMirrorOptions::writer.name: its
  // subject); "" gives every mirror's again.
  void OnlyMirror(absl::string_view mirror);

  const std::string& name() const { return name_; }

 private:
  explicit JetStreamReader(std::shared_ptr<internal::Client> client);
  // Read(), noting each mirror's last batch in `*last_batch`.
  absl::StatusOr<std::vector<Record>> ReadBatches(
      size_t n, absl::Duration timeout, uint64_t* next_sequence,
      std::unordered_map<std::string, uint64_t>* last_batch);
  std::shared_ptr<internal::Client> client_;  // shared with followers
  std::string name_;
  std::string subject_;  // "" for all, else the one mirror's subject
};

class JetStreamFollower {
 public:
  ~JetStreamFollower();
  // The records that arrived (at least one), waiting up to `timeout`:
  // DeadlineExceeded when none did; DataLoss for a message that is no
  // syncstream batch; Unavailable once the connection is closed for good.
  absl::StatusOr<std::vector<Record>> Next(absl::Duration timeout);
  // The stream sequence of the next batch to deliver.
  uint64_t next_sequence() const { return next_sequence_; }

 private:
  friend class JetStreamReader;
  JetStreamFollower() = default;

  std::shared_ptr<internal::Client> client_;
  void* subscription_ = nullptr;  // natsSubscription
  std::string name_;
  uint64_t next_sequence_ = 1;
  std::unordered_map<std::string, uint64_t> last_batch_;  // by mirror
  std::vector<Record> first_;  // Follow(last)'s records, given first
};

}  // namespace syncstream::nats

#endif  // SYNCSTREAM_NATS_JETSTREAM_READER_H_
