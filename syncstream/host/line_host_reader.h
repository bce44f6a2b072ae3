// LineHostReader: reads, follows and controls a LineHostBuffer collector over
// the network.
//
//   SYNCSTREAM_ASSIGN_OR_RETURN(auto reader,
//       LineHostReader::Connect(address, key, absl::Seconds(5)));
//   SYNCSTREAM_ASSIGN_OR_RETURN(std::vector<Record> last, reader->Read(10));
//   SYNCSTREAM_ASSIGN_OR_RETURN(HostInfo info, reader->Info());  // size,
//                                                                // maxlen, stopped
//   reader->Clear(); reader->StopAllMirrors(); reader->ResetStates();
//
//   // tail -f: the last 5 records, then every new one as it arrives.
//   SYNCSTREAM_ASSIGN_OR_RETURN(auto follower, reader->Follow(5));
//   for (;;) {
//     absl::StatusOr<std::vector<Record>> more = follower->Next(absl::Seconds(1));
//     ...  // DeadlineExceeded: nothing new yet
//   }
//
// A JetStream stream ("nats://HOST:PORT/STREAM", net/address.h) is read
// through nats::JetStreamReader (syncstream/nats/jetstream_reader.h): Read,
// ReadAll, Follow and Clear (a purge) work as above; Info and Size give
// Unimplemented (JetStream counts batches, not lines: see `syncstream stream
// info`), StopAllMirrors and ResetStates Unimplemented (no collector).
//
// Every call takes a timeout. Requests carry ids, so a reply that arrives
// after its call timed out is skipped rather than handed to the next call.
#ifndef SYNCSTREAM_HOST_LINE_HOST_READER_H_
#define SYNCSTREAM_HOST_LINE_HOST_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/record.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"
#include "syncstream/nats/credentials.h"
#include "syncstream/nats/jetstream_reader.h"
#include "syncstream/net/connection.h"
#include "syncstream/proto/host.pb.h"

namespace syncstream {

struct HostInfo {
  size_t size = 0;    // records held
  size_t maxlen = 0;  // the N of "the last N"
  bool stopped = false;
};

class HostFollower;

// Thread safety: not thread-safe; one thread at a time uses a reader (a
// follower from Follow() has a connection of its own).
class LineHostReader {
 public:
  // `jetstream`: the NATS credentials, for a JetStream `collector` only.
  static absl::StatusOr<std::unique_ptr<LineHostReader>> Connect(
      const net::Address& collector, const net::AuthKey& key,
      absl::Duration timeout, const nats::JetStreamCredentials& jetstream = {});

  // The last `n` records held, oldest first; ReadAll() every record held.
  absl::StatusOr<std::vector<Record>> Read(
      size_t n, absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<std::vector<Record>> ReadAll(
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<HostInfo> Info(absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<size_t> Size(absl::Duration timeout = absl::Seconds(30));
  absl::Status Clear(absl::Duration timeout = absl::Seconds(30));
  absl::Status StopAllMirrors(absl::Duration timeout = absl::Seconds(30));
  absl::Status ResetStates(absl::Duration timeout = absl::Seconds(30));

  // A follower on a connection of its own: the last `last` records, then
  // every record stored after them.
  absl::StatusOr<std::unique_ptr<HostFollower>> Follow(
      size_t last, absl::Duration timeout = absl::Seconds(30));
  // A follower that starts at the record at `position` (a
  // HostFollower::next_position()) of the collector `collector_id` (empty:
  // whichever answers, trusting the position). Records no longer held show
  // as skipped(); a collector that does not have that position (another
  // one, or restarted without its store) starts with the oldest record it
  // holds and says restarted(). Unimplemented for JetStream.
  absl::StatusOr<std::unique_ptr<HostFollower>> FollowFrom(
      uint64_t position, const std::string& collector_id,
      absl::Duration timeout = absl::Seconds(30));

 private:
  LineHostReader(net::Address collector, net::AuthKey key,
                 std::unique_ptr<net::Connection> connection);
  absl::StatusOr<std::vector<Record>> DoRead(size_t n, bool all,
                                             absl::Duration timeout,
                                             HostInfo* info);
  absl::StatusOr<HostInfo> Control(int action, absl::Duration timeout);
  absl::StatusOr<std::unique_ptr<HostFollower>> StartFollow(
      const proto::FollowRequest& request, absl::Duration timeout);

  const net::Address collector_;
  const net::AuthKey key_;
  std::unique_ptr<net::Connection> connection_;
  std::unique_ptr<nats::JetStreamReader> jetstream_;  // instead, for nats://
  uint64_t next_request_id_ = 1;
};

// Records of a collector, as they are stored.
// Thread safety: not thread-safe; one thread at a time calls Next().
class HostFollower {
 public:
  // The records that arrived (at least one), waiting up to `timeout`:
  // DeadlineExceeded when none did; Unavailable once the collector went away.
  absl::StatusOr<std::vector<Record>> Next(absl::Duration timeout);

  // Where this follower is (LineHostBuffer collectors only): the position
  // of the record after the last one Next() returned, and the collector's
  // id; FollowFrom(next_position(), collector_id()) resumes here, say after
  // the collector restarted. has_position() is false until the collector's
  // first reply.
  bool has_position() const { return has_position_; }
  uint64_t next_position() const { return next_position_; }
  const std::string& collector_id() const { return collector_id_; }
  // About the records the last Next() returned: how many records stored
  // before them were never returned (evicted or cleared before this
  // follower got them), and whether the collector could not resume at the
  // position asked for (see FollowFrom).
  uint64_t skipped() const { return skipped_; }
  bool restarted() const { return restarted_; }

 private:
  friend class LineHostReader;
  explicit HostFollower(std::unique_ptr<net::Connection> connection)
      : connection_(std::move(connection)) {}
  explicit HostFollower(std::unique_ptr<nats::JetStreamFollower> jetstream)
      : jetstream_(std::move(jetstream)) {}
  // Takes one follow reply's records and position.
  absl::Status TakeChunk(const proto::RecordChunk& chunk,
                         std::vector<Record>* records);

  std::unique_ptr<net::Connection> connection_;
  std::unique_ptr<nats::JetStreamFollower> jetstream_;  // or this
  bool has_position_ = false;
  uint64_t next_position_ = 0;
  std::string collector_id_;
  uint64_t skipped_ = 0;
  bool restarted_ = false;
  // Seen in replies not yet returned by Next().
  uint64_t pending_skipped_ = 0;
  bool pending_restarted_ = false;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_HOST_LINE_HOST_READER_H_
