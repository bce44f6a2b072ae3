#include "syncstream/manager/internal/server.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/log_line.h"
#include "syncstream/manager/internal/spin_receive.h"
#include "syncstream/net/accept_loop.h"

namespace syncstream::manager::internal {

namespace {
// Writing a reply to a client that stopped reading gives up after this long
// (the connection is then closed).
constexpr absl::Duration kReplyWriteTimeout = absl::Seconds(30);

// Sends a reply now. A posted call is answered only when it failed, with the
// object it addressed.
void SendReply(net::Connection& connection, const proto::Request& request,
               proto::Response& response, bool flush) {
  if (request.posted() && response.code() == 0) {
    if (flush) (void)connection.Flush(kReplyWriteTimeout);
    return;
  }
  if (request.posted()) response.set_object_id(request.object_id());
  absl::Status sent = flush ? connection.SendNow(response, kReplyWriteTimeout)
                            : connection.Send(response, kReplyWriteTimeout);
  if (!sent.ok()) connection.Shutdown();  // its reader then ends the session
}

class ConnectionSink : public ReplySink {
 public:
  explicit ConnectionSink(std::shared_ptr<net::Connection> connection)
      : connection_(std::move(connection)) {}
  void Reply(const proto::Request& request,
             proto::Response& response) override {
    SendReply(*connection_, request, response, /*flush=*/true);
  }

 private:
  const std::shared_ptr<net::Connection> connection_;
};

}  // namespace

ClientConnection::ClientConnection(
    Dispatcher* dispatcher, net::Listener::AcceptedSocket socket,
    const ManagerOptions& options,
    const net::ConnectionOptions& connection_options, SpinGate* spin_gate)
    : dispatcher_(dispatcher),
      options_(options),
      spin_gate_(spin_gate),
      connection_options_(connection_options) {
  reader_ = std::thread(
      [this, socket = std::move(socket)]() mutable { Run(std::move(socket)); });
}

ClientConnection::~ClientConnection() {
  Shutdown();
  if (reader_.joinable()) reader_.join();
}

void ClientConnection::Shutdown() {
  std::lock_guard<std::mutex> lock(connection_mu_);
  shut_down_ = true;
  if (connection_ != nullptr) connection_->Shutdown();
}

void ClientConnection::Run(net::Listener::AcceptedSocket socket) {
  std::string peer = socket.peer;
  absl::StatusOr<std::unique_ptr<net::Connection>> accepted =
      net::Connection::Accept(std::move(socket.fd), peer, connection_options_);
  if (accepted.ok()) {
    absl::Status blocking =
        (*accepted)->EnableBlockingReceives(kBlockingReceiveSlice);
    if (!blocking.ok()) accepted = blocking;
  }
  if (!accepted.ok()) {
    std::fprintf(stderr, "syncstream manager: %s\n",
                 accepted.status().ToString().c_str());
    finished_.store(true, std::memory_order_release);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(connection_mu_);
    connection_ = *std::move(accepted);
    if (shut_down_) connection_->Shutdown();
  }
  sink_ = std::make_shared<ConnectionSink>(connection_);
  session_ = dispatcher_->OpenSession(peer);
  Serve();
  // The client is gone (or the manager stops): cancel its waiting calls,
  // give back what it held, let the workers finish, drop its handles.
  dispatcher_->CloseSession(*session_);
  connection_->Shutdown();
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    stopping_ = true;
    waiting_calls_.clear();
  }
  workers_cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  dispatcher_->EndSession(*session_);
  finished_.store(true, std::memory_order_release);
}

void ClientConnection::Serve() {
  proto::Request request;
  proto::Response response;
  std::vector<std::shared_ptr<ManagedObject>> kicks;
  SpinPolicy spin(options_.spin_limit);
  // Whether the client has its answers (so its next request should come
  // soon): not while a call of it is parked or on a worker.
  bool answered = false;
  for (;;) {
    if (!kicks.empty() && !connection_->HasBufferedFrame()) {
      dispatcher_->Kick(&kicks);  // every buffered request has run
    }
    absl::Status received =
        SpinThenReceive(*connection_, &request, answered ? &spin : nullptr,
                        absl::InfiniteFuture(), spin_gate_);
    if (!received.ok()) {
      dispatcher_->Kick(&kicks);
      if (!absl::IsUnavailable(received)) {  // a malformed or oversized frame
        std::fprintf(stderr, "syncstream manager: %s; closing it\n",
                     received.ToString().c_str());
      }
      return;
    }
    Dispatcher::Outcome outcome = dispatcher_->Execute(
        session_, request, /*may_block=*/false, &response, sink_, &kicks);
    answered = outcome == Dispatcher::Outcome::kDone;
    if (outcome == Dispatcher::Outcome::kDone) {
      Reply(request, response, /*flush=*/!connection_->HasBufferedFrame());
    } else if (outcome == Dispatcher::Outcome::kParked) {
      if (!connection_->HasBufferedFrame()) {
        (void)connection_->Flush(kReplyWriteTimeout);
      }
    } else if (!StartWaitingCall(request)) {
      response.Clear();
      response.set_request_id(request.request_id());
      SetStatus(absl::ResourceExhaustedError(absl::StrCat(
                    "manager: more than ", options_.max_waiting_calls_per_client,
                    " waiting calls from one client")),
                &response);
      Reply(request, response, !connection_->HasBufferedFrame());
    } else if (!connection_->HasBufferedFrame()) {
      // Replies buffered for earlier requests must not wait for this one.
      (void)connection_->Flush(kReplyWriteTimeout);
    }
  }
}

void ClientConnection::Reply(const proto::Request& request,
                             proto::Response& response, bool flush) {
  SendReply(*connection_, request, response, flush);
}

bool ClientConnection::StartWaitingCall(const proto::Request& request) {
  std::lock_guard<std::mutex> lock(workers_mu_);
  if (busy_workers_ + static_cast<int>(waiting_calls_.size()) >=
      options_.max_waiting_calls_per_client) {
    return false;
  }
  waiting_calls_.push_back(request);
  if (idle_workers_ > 0) {
    workers_cv_.notify_one();
  } else {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  return true;
}

void ClientConnection::WorkerLoop() {
  proto::Response response;
  std::unique_lock<std::mutex> lock(workers_mu_);
  for (;;) {
    ++idle_workers_;
    workers_cv_.wait(lock,
                     [&] { return stopping_ || !waiting_calls_.empty(); });
    --idle_workers_;
    if (stopping_) return;
    proto::Request request = std::move(waiting_calls_.front());
    waiting_calls_.pop_front();
    ++busy_workers_;
    lock.unlock();
    dispatcher_->Execute(session_, request, /*may_block=*/true, &response);
    Reply(request, response, /*flush=*/true);
    lock.lock();
    --busy_workers_;
  }
}

ManagerServer::ManagerServer(std::unique_ptr<net::Listener> listener,
                             ManagerOptions options)
    : options_(std::move(options)), listener_(std::move(listener)) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

ManagerServer::~ManagerServer() { Stop(); }

void ManagerServer::AcceptLoop() {
  net::AcceptLoopCallbacks callbacks;
  callbacks.log = [](absl::string_view line) {
    WriteLogLine("syncstream manager: ", line);
  };
  callbacks.between = [this] {
    std::list<std::unique_ptr<ClientConnection>> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Reap connections whose client left (joined below, unlocked).
      for (auto it = connections_.begin(); it != connections_.end();) {
        if ((*it)->finished()) {
          finished.push_back(std::move(*it));
          it = connections_.erase(it);
        } else {
          ++it;
        }
      }
    }
  };
  callbacks.on_accept = [this](net::Listener::AcceptedSocket socket) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    connections_.push_back(std::make_unique<ClientConnection>(
        &dispatcher_, std::move(socket), options_, listener_->options(),
        &spin_gate_));
  };
  net::RunAcceptLoop(*listener_, callbacks);
}

void ManagerServer::Stop() {
  std::list<std::unique_ptr<ClientConnection>> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  listener_->Shutdown();
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    connections.swap(connections_);
  }
  for (auto& connection : connections) connection->Shutdown();
  connections.clear();  // joins
  dispatcher_.registry().Clear();
}

}  // namespace syncstream::manager::internal
