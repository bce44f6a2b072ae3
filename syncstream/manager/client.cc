#include "syncstream/manager/client.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/process_identity.h"
#include "syncstream/manager/internal/dispatcher.h"
#include "syncstream/manager/manager.h"
#include "syncstream/manager/proxies.h"
#include "syncstream/manager/method_names.h"

namespace syncstream::manager {

namespace {

// A process-wide id for the calling thread (owners of RLocks are client +
// thread).
uint64_t CurrentThreadId() {
  static std::atomic<uint64_t> next{1};
  thread_local uint64_t id = next.fetch_add(1);
  return id;
}

int64_t TimeoutMicros(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return -1;
  if (timeout <= absl::ZeroDuration()) return 0;
  return absl::ToInt64Microseconds(timeout);
}

}  // namespace

// The client's hold on one object reference; releasing it when dropped.
class ClientHandle : public ObjectHandle {
 public:
  ClientHandle(std::shared_ptr<ManagerClient> client, uint64_t id)
      : client_(std::move(client)), id_(id) {}
  ~ClientHandle() override { client_->PostRelease(id_); }

 private:
  const std::shared_ptr<ManagerClient> client_;
  const uint64_t id_;
};

struct ManagerClient::PendingCall {
  bool done = false;
  proto::Response response;
};

absl::StatusOr<std::shared_ptr<ManagerClient>> ManagerClient::Connect(
    const net::Address& address, net::AuthKey key, ClientOptions options) {
  net::ConnectionOptions connection_options;
  connection_options.service = kManagerService;
  connection_options.key = std::move(key);
  connection_options.max_frame_bytes = options.max_frame_bytes;
  absl::StatusOr<std::unique_ptr<net::Connection>> connection =
      net::Connection::Connect(address, std::move(connection_options),
                               options.connect_timeout);
  if (!connection.ok()) return connection.status();
  absl::Status blocking =
      (*connection)->EnableBlockingReceives(internal::kBlockingReceiveSlice);
  if (!blocking.ok()) return blocking;
  return std::shared_ptr<ManagerClient>(
      new ManagerClient(*std::move(connection), address.ToString(), std::move(options)),
      &ManagerClient::Destroy);
}

absl::StatusOr<std::shared_ptr<ManagerClient>> ManagerClient::Connect(
    absl::string_view address, net::AuthKey key, ClientOptions options) {
  absl::StatusOr<net::Address> parsed = net::ParseAddress(address);
  if (!parsed.ok()) return parsed.status();
  return Connect(*parsed, std::move(key), std::move(options));
}

ManagerClient::ManagerClient(std::unique_ptr<net::Connection> connection,
                             std::string address, ClientOptions options)
    : connection_(std::move(connection)),
      address_(std::move(address)),
      options_(std::move(options)),
      owner_pid_(CachedPid()),
      spin_(options_.spin_limit) {}

ManagerClient::~ManagerClient() {
  StopFlusher();
  connection_->Shutdown();
}

void ManagerClient::Destroy(ManagerClient* client) {
  if (client->InOwnerProcess()) {
    delete client;
    return;
  }
  // The last reference of a forked child: the object is the parent's copy.
  // Its socket is shared with the parent, so it is closed here, never shut
  // down; the rest is left as it is: its flusher handle names a thread of
  // the parent (neither joinable nor destructible here), and its condition
  // variables may count waiters that are the parent's threads (destroying
  // them would wait for those forever).
  ::close(client->connection_->fd());
}

void ManagerClient::Close() {
  if (!InOwnerProcess()) return;  // the parent's connection
  // Unwritten releases need no write: the manager releases what a closed
  // connection held.
  connection_->Shutdown();
}

bool ManagerClient::InOwnerProcess() const { return CachedPid() == owner_pid_; }

absl::Status ManagerClient::ForkedChildError(absl::string_view method) const {
  return absl::FailedPreconditionError(absl::StrCat(
      "manager at ", address_, ": ", method, " called in process ", CachedPid(),
      " on a client that process ", owner_pid_,
      " connected (a forked child cannot share its parent's connection: "
      "connect again in the child)"));
}

absl::Status ManagerClient::Post(proto::Request& request, bool defer) {
  if (!InOwnerProcess()) return ForkedChildError(request.method());
  request.set_posted(true);
  defer = defer && options_.release_delay > absl::ZeroDuration();
  // Send() writes only once its buffer is full; anything sent later with
  // SendNow() (every other call) writes the deferred release first.
  absl::Status sent =
      defer ? connection_->Send(request, options_.reply_timeout)
            : connection_->SendNow(request, options_.reply_timeout);
  if (!sent.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "manager at ", address_, ": ", request.method(), ": ",
        sent.message()));
  }
  if (defer) {
    std::call_once(flusher_started_,
                   [this] { flusher_ = std::thread([this] { FlushDeferred(); }); });
    deferred_since_check_.store(true);
    // The flusher checks for buffered bytes after saying it sleeps, and we
    // check whether it sleeps after buffering: one of us sees the other.
    if (flusher_asleep_.load()) {
      std::lock_guard<std::mutex> lock(flusher_mu_);
      flusher_cv_.notify_one();
    }
  }
  return absl::OkStatus();
}

void ManagerClient::FlushDeferred() {
  const auto period = absl::ToChronoMicroseconds(options_.release_delay);
  std::unique_lock<std::mutex> lock(flusher_mu_);
  int idle_periods = 0;
  while (!flusher_stop_) {
    if (idle_periods >= 2) {
      flusher_asleep_.store(true);
      if (connection_->pending_send_bytes() == 0 &&
          !deferred_since_check_.load()) {
        flusher_cv_.wait(lock);
      }
      flusher_asleep_.store(false);
      idle_periods = 0;
      continue;
    }
    flusher_cv_.wait_for(lock, period);
    if (flusher_stop_) break;
    const bool deferred = deferred_since_check_.exchange(false);
    if (connection_->pending_send_bytes() > 0) {
      lock.unlock();
      // A failure breaks the connection's sending side: the next call
      // reports it.
      (void)connection_->Flush(options_.reply_timeout);
      lock.lock();
    }
    idle_periods = deferred ? 0 : idle_periods + 1;
  }
}

void ManagerClient::StopFlusher() {
  {
    std::lock_guard<std::mutex> lock(flusher_mu_);
    flusher_stop_ = true;
  }
  flusher_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

void ManagerClient::PostRelease(uint64_t object_id) {
  proto::Request request;
  request.set_request_id(next_request_id_.fetch_add(1));
  request.set_method("release");
  ToProto(Value(object_id), request.add_args());
  (void)Post(request);  // a closed connection released everything anyway
}

void ManagerClient::AdoptReferences(Value& value) {
  switch (value.kind()) {
    case ValueKind::kRef: {
      ObjectRef ref = value.as_ref();
      ref.handle =
          std::make_shared<ClientHandle>(shared_from_this(), ref.object_id);
      value = Value(std::move(ref));
      break;
    }
    case ValueKind::kList:
      for (Value& item : value.as_list()) AdoptReferences(item);
      break;
    case ValueKind::kDict:
      for (auto& [key, item] : value.as_dict()) AdoptReferences(item);
      break;
    default:
      break;
  }
}

void ManagerClient::DeliverLocked(proto::Response& response) {
  auto it = pending_.find(response.request_id());
  if (it != pending_.end()) {
    it->second->response.Swap(&response);
    it->second->done = true;
    pending_.erase(it);
    return;
  }
  auto abandoned = abandoned_.find(response.request_id());
  if (abandoned != abandoned_.end()) {
    // The caller gave up, yet the acquire succeeded: give it back.
    if (response.code() == 0) {
      proto::Request release;
      release.set_request_id(next_request_id_.fetch_add(1));
      release.set_object_id(abandoned->second.object_id);
      release.set_method("release");
      release.set_thread_id(abandoned->second.thread_id);
      (void)Post(release);
    }
    abandoned_.erase(abandoned);
    return;
  }
  if (response.code() != 0 && response.object_id() != 0) {
    // A posted call failed; keep the first error for the object.
    deferred_errors_.emplace(response.object_id(),
                             internal::StatusOf(response));
  }
}

absl::StatusOr<Value> ManagerClient::Call(uint64_t object_id,
                                          absl::string_view method,
                                          std::vector<Value> args,
                                          absl::Duration timeout,
                                          CallMode mode) {
  // Before any lock: a forked child's copies of the mutexes may be held by
  // threads that exist only in the parent.
  if (!InOwnerProcess()) return ForkedChildError(method);
  proto::Request request;
  const uint64_t request_id = next_request_id_.fetch_add(1);
  request.set_request_id(request_id);
  request.set_object_id(object_id);
  request.set_method(std::string(method));
  for (const Value& arg : args) ToProto(arg, request.add_args());
  request.set_thread_id(CurrentThreadId());
  request.set_timeout_us(TimeoutMicros(timeout));

  if (mode != CallMode::kReply) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!broken_.ok()) return broken_;
    }
    absl::Status posted = Post(request, mode == CallMode::kDeferred);
    if (!posted.ok()) return posted;
    return Value();
  }

  const absl::Time deadline =
      timeout == absl::InfiniteDuration()
          ? absl::InfiniteFuture()
          : DeadlineAfter(std::max(timeout, absl::ZeroDuration()) +
                          options_.reply_timeout);
  PendingCall call;
  std::unique_lock<std::mutex> lock(mu_);
  if (!broken_.ok()) return broken_;
  if (!deferred_errors_.empty()) {
    auto it = deferred_errors_.find(object_id);
    if (it != deferred_errors_.end()) {
      absl::Status earlier = std::move(it->second);
      deferred_errors_.erase(it);
      return absl::Status(earlier.code(),
                          absl::StrCat("earlier posted call failed: ",
                                       earlier.message()));
    }
  }
  pending_[request_id] = &call;
  lock.unlock();
  absl::Status sent = connection_->SendNow(request, TimeLeft(deadline));
  lock.lock();
  if (!sent.ok()) {
    pending_.erase(request_id);
    if (broken_.ok()) {
      broken_ = absl::UnavailableError(
          absl::StrCat("manager at ", address_, ": ", sent.message()));
    }
    cv_.notify_all();
    return broken_;
  }
  proto::Response received;
  while (!call.done) {
    if (!broken_.ok()) {
      pending_.erase(request_id);
      return broken_;
    }
    if (::syncstream::Now() >= deadline) {
      pending_.erase(request_id);
      if (method == methods::kAcquire) {
        abandoned_[request_id] = Abandoned{object_id, CurrentThreadId()};
      }
      lock.unlock();
      proto::Request cancel;
      cancel.set_request_id(next_request_id_.fetch_add(1));
      cancel.set_method("cancel");
      ToProto(Value(request_id), cancel.add_args());
      (void)Post(cancel);
      return absl::DeadlineExceededError(absl::StrCat(
          "manager at ", address_, ": no reply to ", method, " within ",
          absl::FormatDuration(options_.reply_timeout), " of its timeout"));
    }
    if (reading_) {
      WaitOnce(cv_, lock, deadline);  // the loop looks at the deadline
      continue;
    }
    // This caller receives for everyone until its own reply arrives.
    reading_ = true;
    lock.unlock();
    absl::Status got =
        internal::SpinThenReceive(*connection_, &received, &spin_, deadline,
                                  &SpinGate::Default());
    lock.lock();
    reading_ = false;
    if (got.ok()) {
      DeliverLocked(received);
    } else if (!absl::IsDeadlineExceeded(got) && broken_.ok()) {
      broken_ = absl::UnavailableError(absl::StrCat(
          "manager at ", address_, ": connection lost: ", got.message()));
    }
    cv_.notify_all();
  }
  lock.unlock();
  absl::Status status = internal::StatusOf(call.response);
  if (!status.ok()) return status;
  absl::StatusOr<Value> result = FromProto(call.response.result());
  if (!result.ok()) {
    return absl::DataLossError(absl::StrCat("manager at ", address_,
                                            ": bad reply to ", method, ": ",
                                            result.status().message()));
  }
  AdoptReferences(*result);
  return result;
}

absl::StatusOr<ObjectRef> ManagerClient::ManagerCall(
    absl::string_view method, std::vector<Value> args,
    absl::string_view want_type) {
  absl::StatusOr<Value> result =
      Call(0, method, std::move(args), absl::ZeroDuration());
  if (!result.ok()) return result.status();
  if (!result->is_ref()) {
    return absl::DataLossError(absl::StrCat(
        "manager at ", address_, ": ", method, " returned ",
        result->DebugString(), ", not an object reference"));
  }
  if (!want_type.empty() && result->as_ref().type != want_type) {
    return absl::FailedPreconditionError(
        absl::StrCat("object #", result->as_ref().object_id, " is a ",
                     result->as_ref().type, ", not a ", want_type));
  }
  return result->as_ref();
}

absl::Status ManagerClient::Delete(const std::string& name) {
  return Call(0, "delete", {Value(name)}, absl::ZeroDuration()).status();
}

absl::Status ManagerClient::Sync() {
  absl::StatusOr<Value> pong = Call(0, "ping", {}, absl::ZeroDuration());
  if (!pong.ok()) return pong.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (deferred_errors_.empty()) return absl::OkStatus();
  absl::Status earlier = std::move(deferred_errors_.begin()->second);
  deferred_errors_.erase(deferred_errors_.begin());
  return absl::Status(earlier.code(), absl::StrCat("earlier posted call failed: ",
                                                   earlier.message()));
}

absl::Status ManagerClient::ForEachObject(
    absl::FunctionRef<absl::Status(const Value&)> fn) {
  const int64_t page_bytes = static_cast<int64_t>(options_.max_frame_bytes / 2);
  int64_t after_id = 0;
  for (;;) {
    absl::StatusOr<Value> page =
        Call(0, "objects", {Value(after_id), Value(page_bytes)}, absl::ZeroDuration());
    if (!page.ok()) return page.status();
    const Value* objects = nullptr;
    const Value* more = nullptr;
    if (page->is_dict()) {
      auto o = page->as_dict().find("objects");
      auto m = page->as_dict().find("more");
      if (o != page->as_dict().end() && o->second.is_list()) objects = &o->second;
      if (m != page->as_dict().end() && m->second.is_bool()) more = &m->second;
    }
    if (objects == nullptr || more == nullptr) {
      return absl::DataLossError(absl::StrCat("manager at ", address_,
                                              ": objects: bad page ", page->DebugString()));
    }
    for (const Value& object : objects->as_list()) {
      if (!object.is_dict()) {
        return absl::DataLossError(absl::StrCat("manager at ", address_,
                                                ": objects: bad entry ", object.DebugString()));
      }
      auto id = object.as_dict().find("id");
      if (id == object.as_dict().end() || !id->second.is_int() ||
          id->second.as_int() <= after_id) {
        return absl::DataLossError(absl::StrCat("manager at ", address_,
                                                ": objects: entry without a new id: ",
                                                object.DebugString()));
      }
      after_id = id->second.as_int();
      absl::Status handled = fn(object);
      if (!handled.ok()) return handled;
    }
    if (!more->as_bool() || objects->as_list().empty()) return absl::OkStatus();
  }
}

absl::StatusOr<Value> ManagerClient::ListObjects() {
  ValueList all;
  absl::Status listed = ForEachObject([&](const Value& object) {
    all.push_back(object);
    return absl::OkStatus();
  });
  if (!listed.ok()) return listed;
  return Value(std::move(all));
}

absl::StatusOr<UserProxy> ManagerClient::CreateUser(const std::string& type,
                                                    std::vector<Value> args) {
  args.insert(args.begin(), Value(type));
  absl::StatusOr<ObjectRef> ref = ManagerCall("create", std::move(args), type);
  if (!ref.ok()) return ref.status();
  return UserProxy(shared_from_this(), *std::move(ref));
}

absl::StatusOr<UserProxy> ManagerClient::GetOrCreateUser(
    const std::string& name, const std::string& type,
    std::vector<Value> args) {
  args.insert(args.begin(), Value(type));
  args.insert(args.begin(), Value(name));
  absl::StatusOr<ObjectRef> ref =
      ManagerCall("get_or_create", std::move(args), type);
  if (!ref.ok()) return ref.status();
  return UserProxy(shared_from_this(), *std::move(ref));
}

}  // namespace syncstream::manager
