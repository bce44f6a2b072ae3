// ManagerServer: the Manager's listener, connections and worker threads
// around the Dispatcher.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_SERVER_H_
#define SYNCSTREAM_MANAGER_INTERNAL_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "syncstream/manager/internal/dispatcher.h"
#include "syncstream/manager/internal/spin_receive.h"
#include "syncstream/manager/manager.h"
#include "syncstream/net/connection.h"
#include "syncstream/net/listener.h"

namespace syncstream::manager::internal {

// One client connection: a reading thread and, for calls that wait, workers.
class ClientConnection {
 public:
  ClientConnection(Dispatcher* dispatcher, net::Listener::AcceptedSocket socket,
                   const ManagerOptions& options,
                   const net::ConnectionOptions& connection_options,
                   SpinGate* spin_gate);
  // Shuts down and joins.
  ~ClientConnection();

  // Wakes the reading thread (which then ends the session). Thread-safe.
  void Shutdown();
  bool finished() const { return finished_.load(std::memory_order_acquire); }

 private:
  void Run(net::Listener::AcceptedSocket socket);
  void Serve();
  // Queues a call that waits; false when too many wait already.
  bool StartWaitingCall(const proto::Request& request);
  void WorkerLoop();
  void Reply(const proto::Request& request, proto::Response& response,
             bool flush);

  Dispatcher* const dispatcher_;
  const ManagerOptions& options_;
  SpinGate* const spin_gate_;
  const net::ConnectionOptions connection_options_;

  std::mutex connection_mu_;  // guards connection_ being set and shut down
  std::shared_ptr<net::Connection> connection_;
  bool shut_down_ = false;
  std::shared_ptr<Session> session_;
  // Replies to this client's parked calls, from whichever thread completes
  // them.
  std::shared_ptr<ReplySink> sink_;

  std::mutex workers_mu_;
  std::condition_variable workers_cv_;
  std::deque<proto::Request> waiting_calls_;  // not yet taken by a worker
  std::vector<std::thread> workers_;
  int idle_workers_ = 0;
  int busy_workers_ = 0;
  bool stopping_ = false;

  std::atomic<bool> finished_{false};
  std::thread reader_;
};

class ManagerServer {
 public:
  ManagerServer(std::unique_ptr<net::Listener> listener,
                ManagerOptions options);
  ~ManagerServer();

  Dispatcher& dispatcher() { return dispatcher_; }
  const net::Address& address() const { return listener_->address(); }
  void Stop();

 private:
  void AcceptLoop();

  Dispatcher dispatcher_;
  const ManagerOptions options_;
  SpinGate spin_gate_{SpinGate::DefaultMax()};
  std::unique_ptr<net::Listener> listener_;
  std::mutex mu_;
  std::list<std::unique_ptr<ClientConnection>> connections_;
  bool stopped_ = false;
  std::thread acceptor_;
};

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_SERVER_H_
