#include "syncstream/host/line_host_mirror.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/internal/spin_lock.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/host/internal/batch_codec.h"
#include "syncstream/host/internal/mirror_link.h"
#include "syncstream/host/internal/protocol.h"
#include "syncstream/net/connection.h"
#include "syncstream/nats/internal/jetstream_link.h"
#include "syncstream/net/internal/proof.h"
#include "syncstream/proto/host.pb.h"

namespace syncstream {
namespace {

constexpr absl::Duration kMinReconnectBackoff = absl::Milliseconds(10);

// Errors that reconnecting cannot cure.
bool IsFatal(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
      return true;
    default:
      return false;
  }
}

// A collector's connection, after the mirror's hello, as a MirrorLink.
class CollectorLink : public host::internal::MirrorLink {
 public:
  explicit CollectorLink(std::unique_ptr<net::Connection> connection)
      : connection_(std::move(connection)) {}
  absl::Status Send(const proto::HostRequest& request,
                    absl::Duration timeout) override {
    return connection_->Send(request, timeout);
  }
  absl::Status Flush(absl::Duration timeout) override {
    return connection_->Flush(timeout);
  }
  absl::Status Receive(proto::HostReply* reply,
                       absl::Duration timeout) override {
    return connection_->Receive(reply, timeout);
  }
  bool HasBufferedReply() const override {
    return connection_->HasBufferedFrame();
  }
  int fd() const override { return connection_->fd(); }
  void Goodbye() override {
    proto::HostRequest goodbye;
    goodbye.mutable_goodbye();
    connection_->SendNow(goodbye, absl::Seconds(1)).IgnoreError();
  }

 private:
  std::unique_ptr<net::Connection> connection_;
};

}  // namespace

class LineHostMirror::Sender {
 public:
  explicit Sender(LineHostMirrorOptions options)
      : options_(std::move(options)) {
    options_.window = std::max<size_t>(options_.window, 1);
    // A JetStream stream stores one batch at a time (see
    // nats/internal/jetstream_link.cc for why).
    if (options_.collector.is_jetstream()) options_.window = 1;
    options_.batch_max_records = std::max<size_t>(options_.batch_max_records, 1);
    options_.max_queued_records = std::max(options_.max_queued_records,
                                           2 * options_.batch_max_records);
    name_ = absl::StrCat("mirror '", options_.writer.name, "' -> ",
                         options_.collector.ToString());
  }

  ~Sender() { Stop(); }

  absl::Status Start() {
    absl::StatusOr<std::string> id = net::internal::RandomNonce();
    if (!id.ok()) return id.status();
    id_ = id->substr(0, 16);
    hex_id_ = absl::BytesToHexString(id_);
    wakeup_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wakeup_.valid()) {
      return absl::InternalError(absl::StrCat(name_, ": eventfd failed"));
    }
    absl::Status connected = Connect();
    if (!connected.ok() &&
        (options_.connect_at_create || IsFatal(connected))) {
      return connected;
    }
    connected_once_ = connected.ok();
    stats_.reconnect_backoff = kMinReconnectBackoff;
    running_ = true;
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  absl::Status Publish(const Record& record) {
    std::unique_lock<internal::SpinLock> lock(mutex_);
    if (!sticky_.ok()) return sticky_;
    if (closing_) {
      return absl::FailedPreconditionError(
          absl::StrCat(name_, ": closed"));
    }
    if (queued_records_ >= options_.max_queued_records) {
      if (options_.drop_oldest) {
        while (queued_records_ >= options_.max_queued_records &&
               queue_.size() > 1) {
          std::unique_ptr<Batch> oldest = std::move(queue_.front());
          queue_.pop_front();
          queued_records_ -= oldest->records;
          dropped_pending_ += oldest->records;
          stats_.records_dropped += oldest->records;
          resolved_ += oldest->records;
          Recycle(std::move(oldest));
        }
        progress_cv_.notify_all();
      } else {
        const absl::Time deadline = DeadlineAfter(options_.block_timeout);
        if (!WaitUntilReady(space_cv_, lock, deadline, [&] {
              return queued_records_ < options_.max_queued_records ||
                     !sticky_.ok();
            })) {
          return absl::DeadlineExceededError(absl::StrCat(
              name_, ": send queue full (", queued_records_, " records) for ",
              absl::FormatDuration(options_.block_timeout),
              " (collector unreachable or too slow?)"));
        }
        if (!sticky_.ok()) return sticky_;
      }
    }
    if (queue_.empty() || Full(*queue_.back())) queue_.push_back(NewBatch());
    Batch& batch = *queue_.back();
    batch.encoder.Add(record);
    ++batch.records;
    ++queued_records_;
    ++stats_.records_accepted;
    ++accepted_;
    // Wake the sender only when it has something to do: one syscall per
    // batch at most, not one per line.
    if (sender_waiting_ && CanSendLocked()) {
      sender_waiting_ = false;
      Wake();
    }
    return absl::OkStatus();
  }

  absl::Status Sync(absl::Duration timeout) {
    const absl::Time deadline = DeadlineAfter(timeout);
    std::unique_lock<internal::SpinLock> lock(mutex_);
    const uint64_t target = accepted_;
    Wake();
    if (!WaitUntilReady(progress_cv_, lock, deadline, [&] {
          return resolved_ >= target || !sticky_.ok();
        })) {
      return absl::DeadlineExceededError(absl::StrCat(
          name_, ": ", target - resolved_, " records not acknowledged after ",
          absl::FormatDuration(timeout), " (collector unreachable?)"));
    }
    return sticky_;
  }

  // Called after the writers' partial lines were published.
  bool closed() const {
    std::lock_guard<internal::SpinLock> guard(mutex_);
    return close_result_.has_value();
  }

  absl::Status Close(absl::Duration timeout) {
    const absl::Time deadline = DeadlineAfter(timeout);
    std::unique_lock<internal::SpinLock> lock(mutex_);
    if (close_result_.has_value()) return *close_result_;
    closing_ = true;
    if (!running_) {  // never started: nothing was sent
      close_result_ = sticky_;
      return sticky_;
    }
    Wake();
    WaitUntilReady(progress_cv_, lock, deadline,
                   [&] { return finished_ || !sticky_.ok(); });
    absl::Status result = sticky_;
    if (result.ok() && !finished_) {
      result = absl::DeadlineExceededError(absl::StrCat(
          name_, ": closed after ", absl::FormatDuration(timeout), " with ",
          accepted_ - resolved_, " records not acknowledged (lost)"));
    }
    close_result_ = result;
    lock.unlock();
    Stop();
    return result;
  }

  absl::Status status() const {
    std::lock_guard<internal::SpinLock> guard(mutex_);
    return sticky_;
  }
  Stats stats() const {
    std::lock_guard<internal::SpinLock> guard(mutex_);
    return stats_;
  }
  const std::string& hex_id() const { return hex_id_; }

 private:
  struct Batch {
    // request.batch: the sequence number and the encoded records, which
    // Publish() encodes straight into the frame's message.
    proto::HostRequest request;
    host::internal::BatchEncoder encoder;
    size_t records = 0;
  };

  std::unique_ptr<Batch> NewBatch() {
    std::unique_ptr<Batch> batch;
    if (free_.empty()) {
      batch = std::make_unique<Batch>();
    } else {
      batch = std::move(free_.back());
      free_.pop_back();
    }
    batch->encoder.Reset(batch->request.mutable_batch()->mutable_records());
    batch->records = 0;
    return batch;
  }

  bool Full(const Batch& batch) const {
    return batch.records >= options_.batch_max_records ||
           batch.encoder.bytes() >= options_.batch_max_bytes;
  }

  // Whether the sender would send a batch now. Like Nagle's algorithm: a
  // batch still filling leaves only when nothing is in flight (so a lone
  // line goes at once) or when closing; while acknowledgements are awaited,
  // only full batches go, so batches grow with the load instead of one
  // frame, one ack and two wake-ups per few lines.
  bool CanSendLocked() const {
    if (queue_.empty() || inflight_.size() >= options_.window) return false;
    return inflight_.empty() || queue_.size() > 1 || Full(*queue_.front()) ||
           closing_;
  }

  void Recycle(std::unique_ptr<Batch> batch) {
    // Keep as many as can be alive at once (queued and in flight), so that a
    // steady stream reuses batches and their bytes' storage rather than
    // allocating them again.
    if (free_.size() >= options_.window + 2 + options_.max_queued_records /
                                                  options_.batch_max_records) {
      return;
    }
    free_.push_back(std::move(batch));
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t n = ::write(wakeup_.get(), &one, sizeof(one));
    (void)n;
  }

  void DrainWakeups() {
    uint64_t value;
    while (::read(wakeup_.get(), &value, sizeof(value)) > 0) {
    }
  }

  void Stop() {
    {
      std::lock_guard<internal::SpinLock> guard(mutex_);
      abort_ = true;
      if (wakeup_.valid()) Wake();
    }
    if (thread_.joinable()) thread_.join();
  }

  // Ends delivery with `status`: queued and in-flight records are discarded.
  void Fail(absl::Status status) {
    std::lock_guard<internal::SpinLock> guard(mutex_);
    if (sticky_.ok()) sticky_ = std::move(status);
    for (auto& b : queue_) resolved_ += b->records;
    for (auto& b : inflight_) resolved_ += b->records;
    queue_.clear();
    inflight_.clear();
    queued_records_ = 0;
    space_cv_.notify_all();
    progress_cv_.notify_all();
  }

  // Connects, introduces the mirror and resends what is unacknowledged.
  absl::Status Connect() {
    connection_progressed_ = false;
    std::unique_ptr<host::internal::MirrorLink> link;
    if (options_.collector.is_jetstream()) {
      nats::internal::JetStreamLinkOptions link_options;
      link_options.mirror_id = hex_id_;
      link_options.sender = options_.writer.name;
      link_options.connect_timeout = options_.connect_timeout;
      SYNCSTREAM_ASSIGN_OR_RETURN(
          link, nats::internal::ConnectJetStreamLink(
                    options_.collector.jetstream, options_.jetstream,
                    link_options));
    } else {
      SYNCSTREAM_ASSIGN_OR_RETURN(link, ConnectCollector());
    }
    for (auto& batch : inflight_) {
      SYNCSTREAM_RETURN_IF_ERROR(
          link->Send(batch->request, options_.ack_timeout));
      std::lock_guard<internal::SpinLock> guard(mutex_);
      ++stats_.batches_sent;
      ++stats_.batches_resent;
    }
    SYNCSTREAM_RETURN_IF_ERROR(link->Flush(options_.ack_timeout));
    link_ = std::move(link);
    last_progress_ = ::syncstream::Now();
    return absl::OkStatus();
  }

  // Connects to the collector and says hello; acknowledges what the
  // collector already holds.
  absl::StatusOr<std::unique_ptr<host::internal::MirrorLink>>
  ConnectCollector() {
    net::ConnectionOptions connection_options;
    connection_options.service = host::internal::kHostService;
    connection_options.key = options_.key;
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<net::Connection> connection,
        net::Connection::Connect(options_.collector, connection_options,
                                 options_.connect_timeout));
    proto::HostRequest hello;
    hello.mutable_mirror_hello()->set_mirror_id(id_);
    hello.mutable_mirror_hello()->set_name(options_.writer.name);
    hello.mutable_mirror_hello()->set_batch_encoding(
        host::internal::kBatchEncodingVersion);
    hello.mutable_mirror_hello()->set_acked_through(acked_through_);
    SYNCSTREAM_RETURN_IF_ERROR(
        connection->SendNow(hello, options_.connect_timeout));
    proto::HostReply reply;
    SYNCSTREAM_RETURN_IF_ERROR(
        connection->Receive(&reply, options_.connect_timeout));
    if (reply.reply_case() == proto::HostReply::kFailure) {
      return host::internal::FailureStatus(reply.failure());
    }
    if (reply.reply_case() != proto::HostReply::kWelcome) {
      return absl::DataLossError(absl::StrCat(
          name_, ": protocol error: no welcome from the collector"));
    }
    if (reply.welcome().stopped()) return StoppedStatus();
    Acknowledge(reply.welcome().acked_through());
    return std::make_unique<CollectorLink>(std::move(connection));
  }

  absl::Status StoppedStatus() const {
    return absl::FailedPreconditionError(absl::StrCat(
        name_, ": the collector stopped all mirrors (StopAllMirrors); "
               "lines not yet stored are discarded"));
  }

  // Everything up to `acked_through` is stored.
  void Acknowledge(uint64_t acked_through) {
    acked_through_ = std::max(acked_through_, acked_through);
    std::lock_guard<internal::SpinLock> guard(mutex_);
    bool progressed = false;
    while (!inflight_.empty() &&
           inflight_.front()->request.batch().sequence() <= acked_through) {
      resolved_ += inflight_.front()->records;
      stats_.records_acknowledged += inflight_.front()->records;
      Recycle(std::move(inflight_.front()));
      inflight_.pop_front();
      progressed = true;
    }
    if (progressed) {
      connection_progressed_ = true;
      last_progress_ = ::syncstream::Now();
      progress_cv_.notify_all();
    }
  }

  // Moves queued batches into the window and writes them.
  absl::Status SendQueued() {
    std::vector<Batch*> taken;
    {
      std::lock_guard<internal::SpinLock> guard(mutex_);
      while (CanSendLocked()) {
        std::unique_ptr<Batch> batch;
        if (dropped_pending_ > 0) {
          batch = DropWarningBatch();  // before the lines after the drop
        } else {
          batch = std::move(queue_.front());
          queue_.pop_front();
          queued_records_ -= batch->records;
        }
        if (inflight_.empty()) last_progress_ = ::syncstream::Now();
        batch->request.mutable_batch()->set_sequence(next_sequence_++);
        taken.push_back(batch.get());
        inflight_.push_back(std::move(batch));
        ++stats_.batches_sent;
      }
      if (!taken.empty()) space_cv_.notify_all();
    }
    for (Batch* batch : taken) {
      SYNCSTREAM_RETURN_IF_ERROR(
          link_->Send(batch->request, options_.ack_timeout));
    }
    if (!taken.empty()) {
      SYNCSTREAM_RETURN_IF_ERROR(link_->Flush(options_.ack_timeout));
    }
    return absl::OkStatus();
  }

  // A batch of one warning record for the lines dropped since the last one.
  std::unique_ptr<Batch> DropWarningBatch() {
    Record warning;
    warning.kind = RecordKind::kWarning;
    warning.sender = options_.writer.name;
    warning.type = "syncstream";
    warning.timestamp = ::syncstream::Now();
    warning.text = absl::StrCat(name_, " dropped ", dropped_pending_,
                                " lines: the send queue was full");
    dropped_pending_ = 0;
    std::unique_ptr<Batch> batch = NewBatch();
    batch->encoder.Add(warning);
    batch->records = 1;
    ++accepted_;
    return batch;
  }

  absl::Status HandleReply(const proto::HostReply& reply) {
    if (reply.reply_case() == proto::HostReply::kFailure) {
      return host::internal::FailureStatus(reply.failure());
    }
    if (reply.reply_case() != proto::HostReply::kAck) {
      return absl::DataLossError(
          absl::StrCat(name_, ": protocol error: unexpected reply"));
    }
    Acknowledge(reply.ack().acked_through());
    if (reply.ack().stopped()) return StoppedStatus();
    return absl::OkStatus();
  }

  // Reads the acknowledgements that arrived, waiting for one (or for new
  // records) when there is nothing to send.
  absl::Status ReceiveAcks() {
    bool wait;
    absl::Duration wait_for;
    {
      std::lock_guard<internal::SpinLock> guard(mutex_);
      bool can_send = CanSendLocked();
      bool done = closing_ && queue_.empty() && inflight_.empty();
      wait = !can_send && !done && !abort_ && !link_->HasBufferedReply();
      if (inflight_.empty()) {
        wait_for = absl::Seconds(1);
      } else {
        absl::Time due = last_progress_ + options_.ack_timeout;
        if (::syncstream::Now() >= due) {
          return absl::DeadlineExceededError(absl::StrCat(
              name_, ": no acknowledgement for ",
              absl::FormatDuration(options_.ack_timeout)));
        }
        wait_for = due - ::syncstream::Now();
      }
      if (wait) sender_waiting_ = true;
    }
    if (wait) {
      pollfd fds[2] = {{link_->fd(), POLLIN, 0},
                       {wakeup_.get(), POLLIN, 0}};
      int ms = static_cast<int>(std::max<int64_t>(
          1, absl::ToInt64Milliseconds(wait_for + absl::Microseconds(999))));
      ::poll(fds, 2, ms);
      {
        std::lock_guard<internal::SpinLock> guard(mutex_);
        sender_waiting_ = false;
      }
      DrainWakeups();
    }
    proto::HostReply reply;
    for (;;) {
      absl::Status received = link_->Receive(&reply, absl::ZeroDuration());
      if (received.code() == absl::StatusCode::kDeadlineExceeded) break;
      SYNCSTREAM_RETURN_IF_ERROR(received);
      SYNCSTREAM_RETURN_IF_ERROR(HandleReply(reply));
    }
    return absl::OkStatus();
  }

  // Waits for the reconnect backoff (or Stop()), then doubles it. The
  // backoff returns to its minimum only when a connection made progress (an
  // acknowledgement): a collector that accepts the connection and then
  // refuses or drops it is retried ever more slowly, never in a hot loop.
  void BackOff() {
    absl::Duration backoff;
    {
      std::lock_guard<internal::SpinLock> guard(mutex_);
      backoff = stats_.reconnect_backoff;
      if (abort_) return;
    }
    pollfd p{wakeup_.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(backoff)));
    DrainWakeups();
    std::lock_guard<internal::SpinLock> guard(mutex_);
    stats_.reconnect_backoff =
        std::min(backoff * 2, std::max(options_.max_reconnect_backoff,
                                       kMinReconnectBackoff));
  }

  void Run() {
    for (;;) {
      {
        std::lock_guard<internal::SpinLock> guard(mutex_);
        if (abort_ || !sticky_.ok()) break;
      }
      if (link_ == nullptr) {
        absl::Status connected = Connect();
        if (!connected.ok()) {
          if (IsFatal(connected)) {
            Fail(connected);
            break;
          }
          BackOff();
          continue;
        }
        std::lock_guard<internal::SpinLock> guard(mutex_);
        if (connected_once_) ++stats_.reconnects;
        connected_once_ = true;
      }
      absl::Status status = SendQueued();
      if (status.ok()) status = ReceiveAcks();
      if (!status.ok()) {
        if (status.code() == absl::StatusCode::kFailedPrecondition ||
            IsFatal(status)) {
          Fail(status);
          break;
        }
        link_.reset();  // reconnect and resend
        if (connection_progressed_) {
          std::lock_guard<internal::SpinLock> guard(mutex_);
          stats_.reconnect_backoff = kMinReconnectBackoff;
        } else {
          BackOff();
        }
        continue;
      }
      std::lock_guard<internal::SpinLock> guard(mutex_);
      if (closing_ && queue_.empty() && inflight_.empty()) {
        link_->Goodbye();
        finished_ = true;
        progress_cv_.notify_all();
        break;
      }
    }
    link_.reset();
  }

  LineHostMirrorOptions options_;
  std::string name_;
  std::string id_;
  std::string hex_id_;
  UniqueFd wakeup_;  // eventfd: new records, Sync, Close, Stop
  std::thread thread_;

  // Taken by Publish() for every record: a SpinLock (one atomic exchange
  // per record, against two for std::mutex). Its critical sections are
  // short; the waits below release it (condition_variable_any).
  mutable internal::SpinLock mutex_;
  std::condition_variable_any space_cv_;     // queue below its bound
  std::condition_variable_any progress_cv_;  // records resolved, finished
  std::deque<std::unique_ptr<Batch>> queue_;     // not yet sent
  std::deque<std::unique_ptr<Batch>> inflight_;  // sent, not acknowledged
  std::vector<std::unique_ptr<Batch>> free_;
  size_t queued_records_ = 0;
  uint64_t accepted_ = 0;  // records published (and drop warnings)
  uint64_t resolved_ = 0;  // acknowledged, dropped or discarded
  uint64_t dropped_pending_ = 0;
  uint64_t next_sequence_ = 1;
  absl::Time last_progress_;
  absl::Status sticky_;
  bool sender_waiting_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool abort_ = false;
  bool connected_once_ = false;
  bool running_ = false;  // the sender thread was started
  std::optional<absl::Status> close_result_;
  Stats stats_;

  // Sender thread only.
  std::unique_ptr<host::internal::MirrorLink> link_;
  // The highest sequence any collector acknowledged (sent in the hello).
  uint64_t acked_through_ = 0;
  // The current connection brought an acknowledgement.
  bool connection_progressed_ = false;
};

LineHostMirror::LineHostMirror(LineHostMirrorOptions options)
    : LineWriter(options.writer),
      sender_(std::make_unique<Sender>(std::move(options))) {}

absl::StatusOr<std::unique_ptr<LineHostMirror>> LineHostMirror::Create(
    LineHostMirrorOptions options) {
  const absl::Duration close_timeout = options.close_timeout;
  std::unique_ptr<LineHostMirror> mirror(
      new LineHostMirror(std::move(options)));
  mirror->close_timeout_ = close_timeout;
  SYNCSTREAM_RETURN_IF_ERROR(mirror->sender_->Start());
  return mirror;
}

LineHostMirror::~LineHostMirror() {
  // A Close() the owner called already returned its status to the owner.
  const bool reported = sender_->closed();
  absl::Status closed = Close(close_timeout_);
  if (!reported && !closed.ok() &&
      closed.code() != absl::StatusCode::kFailedPrecondition) {
    std::cerr << "syncstream: " << closed << std::endl;
  }
}

absl::Status LineHostMirror::Publish(const Record& record) {
  return sender_->Publish(record);
}

absl::Status LineHostMirror::Sync(absl::Duration timeout) {
  return sender_->Sync(timeout);
}

absl::Status LineHostMirror::Close(absl::Duration timeout) {
  absl::Status flushed = CloseAllWriters();
  absl::Status closed = sender_->Close(timeout);
  return closed.ok() ? flushed : closed;
}

absl::Status LineHostMirror::status() const { return sender_->status(); }
LineHostMirror::Stats LineHostMirror::stats() const {
  return sender_->stats();
}
const std::string& LineHostMirror::id() const { return sender_->hex_id(); }

}  // namespace syncstream
