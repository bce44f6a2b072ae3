// Stress kind "manager": workers are Manager clients that write each line
// into one shared Queue while holding one shared Lock; a collector client
// takes the lines out of the Queue and hands them to the sink. The Manager
// runs in the harness process on a Unix socket in the run's scratch
// directory.
//
// Kills land at any point of a worker, often while it holds the Lock or
// waits for it: the run only finishes if the Manager gives a killed
// client's Lock back (and grants nothing to a dead waiter), since every
// other worker needs the Lock for each line.
//
// Commit point: Queue::Put returned (the Manager stored the line).
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "syncstream/core/record.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/manager/client.h"
#include "syncstream/manager/manager.h"
#include "syncstream/manager/proxies.h"
#include "testing/stress/kind.h"
#include "syncstream/core/deadline.h"

namespace syncstream::stress {
namespace {

using manager::ManagerClient;
using manager::Value;

constexpr char kLockName[] = "stress-lock";
constexpr char kQueueName[] = "stress-lines";
constexpr absl::Duration kCallTimeout = absl::Seconds(60);

class ManagerChannel : public WorkerChannel {
 public:
  ManagerChannel(std::shared_ptr<ManagerClient> client, manager::Lock lock,
                 manager::Queue queue)
      : client_(std::move(client)),
        lock_(std::move(lock)),
        queue_(std::move(queue)) {}

  absl::Status WriteLine(absl::string_view line) override {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    SYNCSTREAM_RETURN_IF_ERROR(lock_.Acquire(kCallTimeout));
    absl::Status put = queue_.Put(Value(line), kCallTimeout);
    absl::Status released = lock_.Release();
    return put.ok() ? released : put;
  }

  absl::Status Close() override { return client_->Sync(); }

 private:
  std::shared_ptr<ManagerClient> client_;
  manager::Lock lock_;
  manager::Queue queue_;
};

absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenManagerChannel(
    const std::string& address) {
  SYNCSTREAM_ASSIGN_OR_RETURN(std::shared_ptr<ManagerClient> client,
                              ManagerClient::Connect(address, net::AuthKey()));
  SYNCSTREAM_ASSIGN_OR_RETURN(manager::Lock lock,
                              client->Get<manager::Lock>(kLockName));
  SYNCSTREAM_ASSIGN_OR_RETURN(manager::Queue queue,
                              client->Get<manager::Queue>(kQueueName));
  return std::unique_ptr<WorkerChannel>(
      new ManagerChannel(std::move(client), std::move(lock), std::move(queue)));
}

class ManagerSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(
      const SessionSettings& settings) {
    net::Address address;
    address.family = net::Address::Family::kUnix;
    address.path = settings.scratch_dir + "/manager.sock";
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<manager::Manager> server,
        manager::Manager::Start(address, manager::ManagerOptions()));
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::shared_ptr<ManagerClient> client,
        ManagerClient::Connect(server->address(), net::AuthKey()));
    SYNCSTREAM_ASSIGN_OR_RETURN(manager::Lock lock,
                                client->GetOrCreate<manager::Lock>(kLockName));
    SYNCSTREAM_ASSIGN_OR_RETURN(
        manager::Queue queue, client->GetOrCreate<manager::Queue>(kQueueName));
    return std::unique_ptr<Session>(new ManagerSession(
        std::move(server), std::move(client), std::move(queue), settings.sink));
  }

  ~ManagerSession() override {
    StopCollector();
    client_->Close();
    server_->Stop();
  }

  absl::Status PrepareWorker(int worker, WorkerLaunch* launch) override {
    launch->token = address();
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(
      int worker) override {
    return OpenManagerChannel(address());
  }

  absl::Status Drain(absl::Duration timeout) override {
    StopCollector();
    // Every worker has ended: what is left in the queue is all there is.
    const absl::Time deadline = ::syncstream::Now() + timeout;
    for (;;) {
      absl::StatusOr<Value> line = queue_.Get(absl::ZeroDuration());
      if (absl::IsDeadlineExceeded(line.status())) return absl::OkStatus();
      if (!line.ok()) return line.status();
      Deliver(*line);
      if (::syncstream::Now() > deadline) {
        return absl::DeadlineExceededError("manager: draining the queue");
      }
    }
  }

 private:
  ManagerSession(std::unique_ptr<manager::Manager> server,
                 std::shared_ptr<ManagerClient> client, manager::Queue queue,
                 LineSink* sink)
      : server_(std::move(server)),
        client_(std::move(client)),
        queue_(std::move(queue)),
        sink_(sink),
        collector_([this] { Collect(); }) {}

  std::string address() const { return server_->address().ToString(); }

  void Deliver(const Value& line) {
    Record record;
    record.text = line.is_string() ? line.as_string() : line.DebugString();
    sink_->Receive({record});
  }

  void Collect() {
    while (!stop_.load()) {
      absl::StatusOr<Value> line = queue_.Get(absl::Milliseconds(100));
      if (absl::IsDeadlineExceeded(line.status())) continue;
      if (!line.ok()) {
        sink_->CollectorError(line.status());
        return;
      }
      Deliver(*line);
    }
  }

  void StopCollector() {
    stop_ = true;
    if (collector_.joinable()) collector_.join();
  }

  std::unique_ptr<manager::Manager> server_;
  std::shared_ptr<ManagerClient> client_;
  manager::Queue queue_;
  LineSink* const sink_;
  std::atomic<bool> stop_{false};
  std::thread collector_;
};

class ManagerKind : public Kind {
 public:
  absl::string_view name() const override { return "manager"; }
  absl::string_view description() const override {
    return "workers are Manager clients putting each line into a shared "
           "Queue while holding a shared Lock (kills hit lock holders and "
           "waiters); commit point: Queue::Put returned";
  }
  bool Supports(SpawnMode mode) const override { return true; }
  bool SupportsKill() const override { return true; }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return ManagerSession::Start(settings);
  }
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token) override {
    return OpenManagerChannel(std::string(token));
  }
};

SYNCSTREAM_REGISTER_STRESS_KIND(ManagerKind);

}  // namespace
}  // namespace syncstream::stress
