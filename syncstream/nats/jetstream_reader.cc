#include "syncstream/nats/jetstream_reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/host/internal/batch_codec.h"
#include "syncstream/nats/internal/client.h"
#include "syncstream/nats/internal/stream_info.h"
#include "syncstream/nats/internal/wire.h"

namespace syncstream::nats {
namespace {

using internal::BatchId;

struct NatsMsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using MsgPtr = std::unique_ptr<natsMsg, NatsMsgDeleter>;

// One stored batch, checked and decoded.
struct Batch {
  uint64_t sequence = 0;
  BatchId id;
  std::vector<Record> records;
};

// Checks and decodes the message at stream sequence `sequence`.
absl::StatusOr<Batch> DecodeMessage(const std::string& name, natsMsg* msg,
                                    uint64_t sequence) {
  Batch batch;
  batch.sequence = sequence;
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, internal::kMsgIdHeader, &id) != NATS_OK ||
      id == nullptr) {
    return absl::DataLossError(absl::StrCat(
        name, ": message ", sequence, " has no ", internal::kMsgIdHeader,
        " header (not published by a syncstream mirror)"));
  }
  absl::StatusOr<BatchId> parsed = internal::ParseBatchId(id);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat(name, ": message ", sequence,
                                            ": ", parsed.status().message()));
  }
  batch.id = *std::move(parsed);
  absl::string_view bytes(natsMsg_GetData(msg),
                          static_cast<size_t>(natsMsg_GetDataLength(msg)));
  absl::StatusOr<size_t> count =
      host::internal::DecodeBatch(bytes, &batch.records);
  if (!count.ok()) {
    return absl::DataLossError(absl::StrCat(name, ": message ", sequence,
                                            ": ", count.status().message()));
  }
  batch.records.resize(*count);
  return batch;
}

// False for a batch of a mirror at or below one already given: stored twice.
bool Admit(const BatchId& id,
           std::unordered_map<std::string, uint64_t>* last_batch) {
  uint64_t& last = (*last_batch)[id.mirror];
  if (id.batch <= last) return false;
  last = id.batch;
  return true;
}

}  // namespace

JetStreamReader::JetStreamReader(std::shared_ptr<internal::Client> client)
    : client_(std::move(client)), name_(client_->name()) {}

JetStreamReader::~JetStreamReader() = default;

absl::StatusOr<std::unique_ptr<JetStreamReader>> JetStreamReader::Connect(
    const JetStreamAddress& address, const JetStreamCredentials& credentials,
    absl::Duration timeout) {
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<internal::Client> client,
                              internal::Client::Connect(address, credentials,
                                                        timeout, "syncstream reader"));
  SYNCSTREAM_RETURN_IF_ERROR(internal::LookUpStream(*client).status());
  return std::unique_ptr<JetStreamReader>(
      new JetStreamReader(std::move(client)));
}

void JetStreamReader::OnlyMirror(absl::string_view mirror) {
  subject_ = mirror.empty() ? std::string()
                            : client_->address().SenderSubject(mirror);
}

absl::StatusOr<JetStreamStreamInfo> JetStreamReader::Info() {
  return internal::LookUpStream(*client_);
}

absl::Status JetStreamReader::Clear() {
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PurgeStream(client_->js(),
                                client_->address().stream.c_str(), nullptr,
                                &code);
  return internal::FromJetStream(s, code, absl::StrCat(name_, ": purge"));
}

absl::StatusOr<std::vector<Record>> JetStreamReader::Read(
    size_t n, absl::Duration timeout, uint64_t* next_sequence) {
  std::unordered_map<std::string, uint64_t> last_batch;
  return ReadBatches(n, timeout, next_sequence, &last_batch);
}

absl::StatusOr<std::vector<Record>> JetStreamReader::ReadBatches(
    size_t n, absl::Duration timeout, uint64_t* next_sequence,
    std::unordered_map<std::string, uint64_t>* last_batch) {
  const absl::Time deadline = DeadlineAfter(timeout);
  SYNCSTREAM_ASSIGN_OR_RETURN(JetStreamStreamInfo info, Info());
  // Newest first, until `n` records are in hand (or the stream's start).
  std::vector<Batch> batches;
  size_t records = 0;
  for (uint64_t seq = info.last_sequence;
       seq >= info.first_sequence && seq > 0; --seq) {
    if (n != 0 && records >= n) break;
    if (::syncstream::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          name_, ": reading took longer than ", absl::FormatDuration(timeout)));
    }
    natsMsg* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&raw, client_->js(),
                             client_->address().stream.c_str(), seq, nullptr,
                             &code);
    MsgPtr msg(raw);
    if (s != NATS_OK) {
      absl::Status status = internal::FromJetStream(
          s, code, absl::StrCat(name_, ": message ", seq));
      // Removed meanwhile (limits, purge) or deleted: not there to read.
      if (status.code() == absl::StatusCode::kNotFound) continue;
      return status;
    }
    if (!subject_.empty() && subject_ != natsMsg_GetSubject(msg.get())) {
      continue;  // another mirror's
    }
    SYNCSTREAM_ASSIGN_OR_RETURN(Batch batch,
                                DecodeMessage(name_, msg.get(), seq));
    records += batch.records.size();
    batches.push_back(std::move(batch));
  }
  std::vector<Record> result;
  for (auto it = batches.rbegin(); it != batches.rend(); ++it) {
    if (!Admit(it->id, last_batch)) continue;
    for (Record& r : it->records) result.push_back(std::move(r));
  }
  if (n != 0 && result.size() > n) {
    result.erase(result.begin(), result.end() - n);
  }
  if (next_sequence != nullptr) *next_sequence = info.last_sequence + 1;
  return result;
}

absl::StatusOr<std::unique_ptr<JetStreamFollower>> JetStreamReader::FollowFrom(
    uint64_t sequence) {
  std::unique_ptr<JetStreamFollower> follower(new JetStreamFollower());
  follower->client_ = client_;
  follower->name_ = name_;
  follower->next_sequence_ = std::max<uint64_t>(sequence, 1);
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = client_->address().stream.c_str();
  options.Ordered = true;
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = follower->next_sequence_;
  // The server sends a heartbeat when idle this long; two missed ones make
  // the C client recreate the consumer (after a server's death, say) from
  // the last sequence delivered. Its default, 5 s, would stall a follower
  // for 10 s after a failover.
  options.Config.Heartbeat = absl::ToInt64Nanoseconds(absl::Seconds(1));
  const std::string subjects =
      subject_.empty() ? client_->address().StreamSubjects() : subject_;
  natsSubscription* subscription = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_SubscribeSync(&subscription, client_->js(),
                                  subjects.c_str(), nullptr, &options, &code);
  if (s != NATS_OK) {
    return internal::FromJetStream(
        s, code, absl::StrCat(name_, ": following from sequence ",
                              follower->next_sequence_));
  }
  // The follower decides how much to hold: lift the C client's default
  // pending limits (65536 messages, 64 MiB) to none, so that a slow reader
  // is never a "slow consumer" losing messages (flow control bounds what
  // the server sends ahead).
  natsSubscription_SetPendingLimits(subscription, -1, -1);
  follower->subscription_ = subscription;
  return follower;
}

absl::StatusOr<std::unique_ptr<JetStreamFollower>> JetStreamReader::Follow(
    size_t last, absl::Duration timeout) {
  if (last == kAll) {
    SYNCSTREAM_ASSIGN_OR_RETURN(JetStreamStreamInfo info, Info());
    return FollowFrom(info.first_sequence);
  }
  uint64_t next = 1;
  std::vector<Record> first;
  std::unordered_map<std::string, uint64_t> last_batch;
  if (last > 0) {
    SYNCSTREAM_ASSIGN_OR_RETURN(
        first, ReadBatches(last, timeout, &next, &last_batch));
  } else {
    SYNCSTREAM_ASSIGN_OR_RETURN(JetStreamStreamInfo info, Info());
    next = info.last_sequence + 1;
  }
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<JetStreamFollower> follower,
                              FollowFrom(next));
  follower->first_ = std::move(first);
  follower->last_batch_ = std::move(last_batch);
  return follower;
}

JetStreamFollower::~JetStreamFollower() {
  if (subscription_ != nullptr) {
    auto* subscription = static_cast<natsSubscription*>(subscription_);
    natsSubscription_Unsubscribe(subscription);
    natsSubscription_Destroy(subscription);
  }
}

absl::StatusOr<std::vector<Record>> JetStreamFollower::Next(
    absl::Duration timeout) {
  std::vector<Record> records = std::move(first_);
  first_.clear();
  auto* subscription = static_cast<natsSubscription*>(subscription_);
  const absl::Time deadline = DeadlineAfter(timeout);
  // Wait for one batch, then take what else is already queued.
  bool waited = false;
  for (;;) {
    absl::Duration wait = absl::ZeroDuration();
    if (records.empty()) {
      wait = TimeLeft(deadline);
      if (waited && wait <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError(
            absl::StrCat(name_, ": nothing new for ",
                         absl::FormatDuration(timeout)));
      }
    } else {
      int pending = 0;
      int bytes = 0;
      if (natsSubscription_GetPending(subscription, &pending, &bytes) !=
              NATS_OK ||
          pending <= 0) {
        return records;
      }
    }
    waited = true;
    natsMsg* raw = nullptr;
    natsStatus s = natsSubscription_NextMsg(
        &raw, subscription, internal::ToMillis(wait));
    MsgPtr msg(raw);
    if (s == NATS_TIMEOUT) {
      if (!records.empty()) return records;
      continue;
    }
    // The ordered consumer noticed a stall or a gap and is recreating
    // itself from its last sequence: keep waiting.
    if (s == NATS_MISSED_HEARTBEAT || s == NATS_SLOW_CONSUMER ||
        s == NATS_MISMATCH) {
      continue;
    }
    if (s != NATS_OK) {
      return internal::FromNats(s, absl::StrCat(name_, ": following"));
    }
    jsMsgMetaData* meta = nullptr;
    s = natsMsg_GetMetaData(&meta, msg.get());
    if (s != NATS_OK) {
      return internal::FromNats(
          s, absl::StrCat(name_, ": a delivered message without metadata"));
    }
    const uint64_t sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    if (sequence < next_sequence_) continue;  // delivered already
    SYNCSTREAM_ASSIGN_OR_RETURN(Batch batch,
                                DecodeMessage(name_, msg.get(), sequence));
    next_sequence_ = sequence + 1;
    if (!Admit(batch.id, &last_batch_)) continue;
    for (Record& r : batch.records) records.push_back(std::move(r));
  }
}

}  // namespace syncstream::nats
