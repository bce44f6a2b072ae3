#include "syncstream/host/line_host_reader.h"

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/host/internal/protocol.h"
#include "syncstream/proto/host.pb.h"

namespace syncstream {
namespace {

net::ConnectionOptions ReaderOptions(const net::AuthKey& key) {
  net::ConnectionOptions options;
  options.service = host::internal::kHostService;
  options.key = key;
  return options;
}

absl::Status AppendRecords(const proto::RecordBatch& batch,
                           std::vector<Record>* out) {
  for (const proto::Record& message : batch.records()) {
    out->emplace_back();
    SYNCSTREAM_RETURN_IF_ERROR(FromProto(message, &out->back()));
  }
  return absl::OkStatus();
}

HostInfo ToInfo(const proto::HostInfo& info) {
  HostInfo out;
  out.size = info.size();
  out.maxlen = info.maxlen();
  out.stopped = info.stopped();
  return out;
}

}  // namespace

LineHostReader::LineHostReader(net::Address collector, net::AuthKey key,
                               std::unique_ptr<net::Connection> connection)
    : collector_(std::move(collector)),
      key_(std::move(key)),
      connection_(std::move(connection)) {}

absl::StatusOr<std::unique_ptr<LineHostReader>> LineHostReader::Connect(
    const net::Address& collector, const net::AuthKey& key,
    absl::Duration timeout, const nats::JetStreamCredentials& jetstream) {
  if (collector.is_jetstream()) {
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<nats::JetStreamReader> reader,
        nats::JetStreamReader::Connect(collector.jetstream, jetstream,
                                       timeout));
    std::unique_ptr<LineHostReader> result(
        new LineHostReader(collector, key, nullptr));
    result->jetstream_ = std::move(reader);
    return result;
  }
  SYNCSTREAM_ASSIGN_OR_RETURN(
      std::unique_ptr<net::Connection> connection,
      net::Connection::Connect(collector, ReaderOptions(key), timeout));
  return std::unique_ptr<LineHostReader>(
      new LineHostReader(collector, key, std::move(connection)));
}

absl::StatusOr<std::vector<Record>> LineHostReader::DoRead(
    size_t n, bool all, absl::Duration timeout, HostInfo* info) {
  if (jetstream_ != nullptr) return jetstream_->Read(all ? 0 : n, timeout);
  const absl::Time deadline = DeadlineAfter(timeout);
  proto::HostRequest request;
  const uint64_t id = next_request_id_++;
  request.set_request_id(id);
  request.mutable_read()->set_count(n);
  request.mutable_read()->set_all(all);
  SYNCSTREAM_RETURN_IF_ERROR(connection_->SendNow(request, timeout));
  std::vector<Record> records;
  proto::HostReply reply;
  for (;;) {
    SYNCSTREAM_RETURN_IF_ERROR(
        connection_->Receive(&reply, TimeLeft(deadline)));
    if (reply.request_id() != id) continue;  // a late reply to an old call
    if (reply.reply_case() == proto::HostReply::kFailure) {
      return host::internal::FailureStatus(reply.failure());
    }
    if (reply.reply_case() != proto::HostReply::kRecords) {
      return absl::DataLossError(absl::StrCat(
          connection_->name(), ": protocol error: unexpected reply to a read"));
    }
    SYNCSTREAM_RETURN_IF_ERROR(
        AppendRecords(reply.records().batch(), &records));
    if (reply.records().last()) {
      if (info != nullptr) *info = ToInfo(reply.records().info());
      return records;
    }
  }
}

absl::StatusOr<std::vector<Record>> LineHostReader::Read(
    size_t n, absl::Duration timeout) {
  return DoRead(n, false, timeout, nullptr);
}

absl::StatusOr<std::vector<Record>> LineHostReader::ReadAll(
    absl::Duration timeout) {
  return DoRead(0, true, timeout, nullptr);
}

absl::StatusOr<HostInfo> LineHostReader::Control(int action,
                                                 absl::Duration timeout) {
  if (jetstream_ != nullptr) {
    if (action == proto::ControlRequest::CLEAR) {
      SYNCSTREAM_RETURN_IF_ERROR(jetstream_->Clear());
      return HostInfo();
    }
    return absl::UnimplementedError(absl::StrCat(
        jetstream_->name(),
        action == proto::ControlRequest::INFO
            ? ": a JetStream stream counts batches, not lines; see "
              "`syncstream stream info`"
            : ": a JetStream stream has no collector to stop or reset"));
  }
  const absl::Time deadline = DeadlineAfter(timeout);
  proto::HostRequest request;
  const uint64_t id = next_request_id_++;
  request.set_request_id(id);
  request.mutable_control()->set_action(
      static_cast<proto::ControlRequest::Action>(action));
  SYNCSTREAM_RETURN_IF_ERROR(connection_->SendNow(request, timeout));
  proto::HostReply reply;
  for (;;) {
    SYNCSTREAM_RETURN_IF_ERROR(
        connection_->Receive(&reply, TimeLeft(deadline)));
    if (reply.request_id() != id) continue;
    if (reply.reply_case() == proto::HostReply::kFailure) {
      return host::internal::FailureStatus(reply.failure());
    }
    if (reply.reply_case() != proto::HostReply::kInfo) {
      return absl::DataLossError(absl::StrCat(
          connection_->name(), ": protocol error: unexpected reply"));
    }
    return ToInfo(reply.info());
  }
}

absl::StatusOr<HostInfo> LineHostReader::Info(absl::Duration timeout) {
  return Control(proto::ControlRequest::INFO, timeout);
}

absl::StatusOr<size_t> LineHostReader::Size(absl::Duration timeout) {
  SYNCSTREAM_ASSIGN_OR_RETURN(HostInfo info, Info(timeout));
  return info.size;
}

absl::Status LineHostReader::Clear(absl::Duration timeout) {
  return Control(proto::ControlRequest::CLEAR, timeout).status();
}

absl::Status LineHostReader::StopAllMirrors(absl::Duration timeout) {
  return Control(proto::ControlRequest::STOP_ALL_MIRRORS, timeout).status();
}

absl::Status LineHostReader::ResetStates(absl::Duration timeout) {
  return Control(proto::ControlRequest::RESET, timeout).status();
}

absl::StatusOr<std::unique_ptr<HostFollower>> LineHostReader::Follow(
    size_t last, absl::Duration timeout) {
  if (jetstream_ != nullptr) {
    SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<nats::JetStreamFollower> f,
                                jetstream_->Follow(last, timeout));
    return std::unique_ptr<HostFollower>(new HostFollower(std::move(f)));
  }
  proto::FollowRequest request;
  request.set_last(last);
  return StartFollow(request, timeout);
}

absl::StatusOr<std::unique_ptr<HostFollower>> LineHostReader::FollowFrom(
    uint64_t position, const std::string& collector_id,
    absl::Duration timeout) {
  if (jetstream_ != nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        jetstream_->name(), ": following from a position needs a "
                            "syncstream collector, not JetStream"));
  }
  proto::FollowRequest request;
  request.set_resume(true);
  request.set_from_position(position);
  request.set_collector_id(collector_id);
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<HostFollower> follower,
                              StartFollow(request, timeout));
  follower->has_position_ = true;
  follower->next_position_ = position;
  follower->collector_id_ = collector_id;
  return follower;
}

absl::StatusOr<std::unique_ptr<HostFollower>> LineHostReader::StartFollow(
    const proto::FollowRequest& follow, absl::Duration timeout) {
  SYNCSTREAM_ASSIGN_OR_RETURN(
      std::unique_ptr<net::Connection> connection,
      net::Connection::Connect(collector_, ReaderOptions(key_), timeout));
  proto::HostRequest request;
  *request.mutable_follow() = follow;
  SYNCSTREAM_RETURN_IF_ERROR(connection->SendNow(request, timeout));
  return std::unique_ptr<HostFollower>(new HostFollower(std::move(connection)));
}

absl::Status HostFollower::TakeChunk(const proto::RecordChunk& chunk,
                                     std::vector<Record>* records) {
  if (chunk.restarted()) {
    pending_restarted_ = true;
  } else if (has_position_ && chunk.first_position() != next_position_) {
    if (chunk.first_position() < next_position_) {
      return absl::DataLossError(absl::StrCat(
          connection_->name(), ": protocol error: follow went back from "
                               "position ", next_position_, " to ",
          chunk.first_position()));
    }
    pending_skipped_ += chunk.first_position() - next_position_;
  }
  has_position_ = true;
  collector_id_ = chunk.collector_id();
  next_position_ = chunk.first_position() + chunk.batch().records_size();
  return AppendRecords(chunk.batch(), records);
}

absl::StatusOr<std::vector<Record>> HostFollower::Next(
    absl::Duration timeout) {
  if (jetstream_ != nullptr) return jetstream_->Next(timeout);
  const absl::Time deadline = DeadlineAfter(timeout);
  std::vector<Record> records;
  proto::HostReply reply;
  // Replies until one holds records (the first may be empty), then
  // whatever else already arrived.
  while (records.empty() || connection_->HasBufferedFrame()) {
    SYNCSTREAM_RETURN_IF_ERROR(connection_->Receive(
        &reply, records.empty() ? TimeLeft(deadline) : absl::ZeroDuration()));
    if (reply.reply_case() != proto::HostReply::kRecords) {
      return absl::DataLossError(absl::StrCat(
          connection_->name(), ": protocol error: unexpected reply to follow"));
    }
    SYNCSTREAM_RETURN_IF_ERROR(TakeChunk(reply.records(), &records));
  }
  skipped_ = pending_skipped_;
  restarted_ = pending_restarted_;
  pending_skipped_ = 0;
  pending_restarted_ = false;
  return records;
}

}  // namespace syncstream
