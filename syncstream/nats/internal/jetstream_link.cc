#include "syncstream/nats/internal/jetstream_link.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/nats/internal/client.h"
#include "syncstream/nats/internal/stream_info.h"
#include "syncstream/nats/internal/wire.h"

namespace syncstream::nats::internal {
namespace {

// Why a link publishes with its own reply subjects rather than the C
// client's js_PublishMsgAsync: the replies then arrive on a subscription
// whose completion callback says when no handler runs any more, so the
// state they touch can be freed safely; and the reply subject names the
// batch, so an acknowledgement is matched to its batch without a table.
//
// Why one batch at a time (the sender's window is 1 for JetStream): were a
// batch refused (no leader during an election) while the next one was
// stored, resending it would store it after the next one, out of the
// sender's order.

// The replies, filled by the subscription's handler (a C client thread) and
// read by the sender thread.
struct ReplyQueue {
  struct Reply {
    uint64_t batch = 0;
    absl::Status status;  // OK: stored
  };
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<Reply> replies;
  bool closed = false;  // the handler will not run again
  std::condition_variable closed_cv;
  UniqueFd event;  // written once per reply, for poll
  std::string stream;
  std::string inbox;  // "_INBOX.<nuid>"
};

void OnReply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* queue = static_cast<ReplyQueue*>(closure);
  ReplyQueue::Reply reply;
  absl::string_view subject = natsMsg_GetSubject(msg);
  absl::string_view token;
  if (subject.size() > queue->inbox.size() + 1) {
    token = subject.substr(queue->inbox.size() + 1);
  }
  if (!absl::SimpleAtoi(token, &reply.batch) || reply.batch == 0) {
    natsMsg_Destroy(msg);  // not a reply to one of our batches
    return;
  }
  if (natsMsg_IsNoResponders(msg)) {
    reply.status = absl::UnavailableError(
        "no JetStream server answered for the stream (no responders: no "
        "stream leader, or the stream is gone)");
  } else {
    absl::StatusOr<PubAck> ack = ParsePubAck(absl::string_view(
        natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))));
    if (!ack.ok()) {
      reply.status = ack.status();
    } else if (ack->stream != queue->stream) {
      reply.status = absl::FailedPreconditionError(absl::StrCat(
          "the batch was stored in stream '", ack->stream, "', not '",
          queue->stream, "' (another stream takes the same subjects?)"));
    }
  }
  natsMsg_Destroy(msg);
  {
    std::lock_guard<std::mutex> guard(queue->mutex);
    queue->replies.push_back(std::move(reply));
  }
  queue->ready.notify_all();
  uint64_t one = 1;
  ssize_t n = ::write(queue->event.get(), &one, sizeof(one));
  (void)n;
}

void OnComplete(void* closure) {
  auto* queue = static_cast<ReplyQueue*>(closure);
  {
    std::lock_guard<std::mutex> guard(queue->mutex);
    queue->closed = true;
  }
  queue->closed_cv.notify_all();
}

class JetStreamLink : public host::internal::MirrorLink {
 public:
  JetStreamLink(std::unique_ptr<Client> client, std::string subject,
                std::string mirror_id)
      : client_(std::move(client)),
        subject_(std::move(subject)),
        mirror_id_(std::move(mirror_id)),
        queue_(std::make_unique<ReplyQueue>()) {}

  ~JetStreamLink() override {
    if (subscription_ == nullptr) return;
    natsSubscription_Unsubscribe(subscription_);
    std::unique_lock<std::mutex> lock(queue_->mutex);
    const bool closed = queue_->closed_cv.wait_for(
        lock, std::chrono::seconds(10), [&] { return queue_->closed; });
    lock.unlock();
    natsSubscription_Destroy(subscription_);
    // A handler that could still run needs its queue: keep it (never seen;
    // the C client promises the completion callback).
    if (!closed) queue_.release();
  }

  absl::Status Start() {
    queue_->stream = client_->address().stream;
    queue_->event.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!queue_->event.valid()) {
      return absl::InternalError(absl::StrCat(client_->name(),
                                              ": eventfd failed"));
    }
    natsInbox* inbox = nullptr;
    natsStatus s = natsInbox_Create(&inbox);
    if (s != NATS_OK) return FromNats(s, client_->name());
    queue_->inbox = inbox;
    natsInbox_Destroy(inbox);
    const std::string replies = absl::StrCat(queue_->inbox, ".*");
    s = natsConnection_Subscribe(&subscription_, client_->connection(),
                                 replies.c_str(), OnReply, queue_.get());
    if (s != NATS_OK) {
      subscription_ = nullptr;
      return FromNats(s, absl::StrCat(client_->name(), ": subscribing to ",
                                      replies));
    }
    s = natsSubscription_SetOnCompleteCB(subscription_, OnComplete,
                                         queue_.get());
    if (s == NATS_OK) {
      s = natsConnection_FlushTimeout(client_->connection(),
                                      ToMillis(client_->timeout()));
    }
    if (s != NATS_OK) return FromNats(s, client_->name());
    max_payload_ = natsConnection_GetMaxPayload(client_->connection());
    return absl::OkStatus();
  }

  absl::Status Send(const proto::HostRequest& request,
                    absl::Duration /*timeout*/) override {
    if (!request.has_batch()) return absl::OkStatus();
    const proto::MirrorBatch& batch = request.batch();
    const std::string& bytes = batch.records();
    if (max_payload_ > 0 && static_cast<int64_t>(bytes.size()) > max_payload_) {
      return absl::InvalidArgumentError(absl::StrCat(
          client_->name(), ": batch ", batch.sequence(), " of ", bytes.size(),
          " bytes exceeds the servers' maximum payload of ", max_payload_,
          " bytes (lower batch_max_bytes)"));
    }
    const std::string reply =
        absl::StrCat(queue_->inbox, ".", batch.sequence());
    const std::string id = FormatBatchId(mirror_id_, batch.sequence());
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject_.c_str(), reply.c_str(),
                                  bytes.data(), static_cast<int>(bytes.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, kMsgIdHeader, id.c_str());
    if (s == NATS_OK) s = natsConnection_PublishMsg(client_->connection(), msg);
    natsMsg_Destroy(msg);
    return FromNats(s, absl::StrCat(client_->name(), ": publishing batch ",
                                    batch.sequence()));
  }

  // The C client's flusher thread sends what Send buffered at once.
  absl::Status Flush(absl::Duration) override { return absl::OkStatus(); }

  absl::Status Receive(proto::HostReply* reply,
                       absl::Duration timeout) override {
    const absl::Time deadline = DeadlineAfter(timeout);
    std::unique_lock<std::mutex> lock(queue_->mutex);
    for (;;) {
      if (queue_->replies.empty()) {
        DrainEvents();
        if (!WaitUntilReady(queue_->ready, lock, deadline,
                            [&] { return !queue_->replies.empty(); })) {
          return absl::DeadlineExceededError(
              absl::StrCat(client_->name(), ": no acknowledgement yet"));
        }
      }
      ReplyQueue::Reply next = std::move(queue_->replies.front());
      queue_->replies.pop_front();
      if (next.batch <= acked_through_) continue;  // late news of an old one
      if (!next.status.ok()) {
        return absl::Status(next.status.code(),
                            absl::StrCat(client_->name(), ": batch ",
                                         next.batch, ": ",
                                         next.status.message()));
      }
      acked_through_ = next.batch;
      reply->Clear();
      reply->mutable_ack()->set_acked_through(next.batch);
      return absl::OkStatus();
    }
  }

  bool HasBufferedReply() const override {
    std::lock_guard<std::mutex> guard(queue_->mutex);
    return !queue_->replies.empty();
  }

  int fd() const override { return queue_->event.get(); }

  void Goodbye() override {
    natsConnection_FlushTimeout(client_->connection(), 1000);
  }

 private:
  void DrainEvents() {
    uint64_t value;
    while (::read(queue_->event.get(), &value, sizeof(value)) > 0) {
    }
  }

  std::unique_ptr<Client> client_;
  const std::string subject_;
  const std::string mirror_id_;
  std::unique_ptr<ReplyQueue> queue_;
  natsSubscription* subscription_ = nullptr;
  int64_t max_payload_ = 0;
  uint64_t acked_through_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<host::internal::MirrorLink>>
ConnectJetStreamLink(const JetStreamAddress& address,
                     const JetStreamCredentials& credentials,
                     const JetStreamLinkOptions& options) {
  SYNCSTREAM_ASSIGN_OR_RETURN(
      std::unique_ptr<Client> client,
      Client::Connect(address, credentials, options.connect_timeout,
                      absl::StrCat("syncstream mirror ", options.sender)));
  SYNCSTREAM_RETURN_IF_ERROR(LookUpStream(*client).status());
  auto link = std::make_unique<JetStreamLink>(
      std::move(client), address.SenderSubject(options.sender),
      options.mirror_id);
  SYNCSTREAM_RETURN_IF_ERROR(link->Start());
  return std::unique_ptr<host::internal::MirrorLink>(std::move(link));
}

}  // namespace syncstream::nats::internal
