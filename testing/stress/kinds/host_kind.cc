// Stress kinds "host" and "host_restart": workers write through their own
// LineHostMirror to one LineHostBuffer collector.
//
// host: the collector runs in the harness process on an ephemeral loopback
// TCP port (nothing to set up); a HostFollower (over the network too) hands
// what it stores to the sink.
//
// host_restart: the collector runs in a forked child with a store directory
// on a Unix socket, and is SIGKILLed and restarted every 150 ms (once it
// stored something new) while the workers write; mirrors reconnect and resend what was not acknowledged. At
// the end every record is read back from the last collector.
//
// nats: no collector; the workers' mirrors publish to a NATS JetStream
// stream on a nats-server of the session's own (Debian's, on a loopback
// port, storage in the scratch directory), which is SIGKILLed and restarted
// every 500 ms while the workers write; mirrors resend what was not
// acknowledged and JetStream stores each batch once. At the end every record
// is read back from the stream. Offered only where nats-server is on PATH.
//
// Commit point (kills of workers): the collector (for nats: JetStream)
// acknowledged the line.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/host/line_host_buffer.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/nats/jetstream_stream.h"
#include "syncstream/nats/testing/nats_server.h"
#include "testing/stress/kind.h"
#include "syncstream/core/deadline.h"

namespace syncstream::stress {
namespace {

class HostChannel : public WorkerChannel {
 public:
  explicit HostChannel(std::unique_ptr<LineHostMirror> mirror)
      : mirror_(std::move(mirror)) {}
  absl::Status WriteLine(absl::string_view line) override {
    return mirror_->Write(line);
  }
  uint64_t Committed(uint64_t written) const override {
    return std::min<uint64_t>(written, mirror_->stats().records_acknowledged);
  }
  absl::Status Close() override { return mirror_->Close(absl::Seconds(60)); }

 private:
  std::unique_ptr<LineHostMirror> mirror_;
};

absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenHostChannel(
    const net::Address& address, int worker) {
  LineHostMirrorOptions options;
  options.collector = address;
  // A JetStream server killed with a batch in flight never answers for
  // it: resend soon (a collector's connection breaks instead).
  if (address.is_jetstream()) options.ack_timeout = absl::Seconds(2);
  options.writer.name = absl::StrCat("w", worker);
  options.close_timeout = absl::Seconds(60);
  options.connect_at_create = false;  // the collector may be restarting
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<LineHostMirror> mirror,
                              LineHostMirror::Create(std::move(options)));
  return std::unique_ptr<WorkerChannel>(new HostChannel(std::move(mirror)));
}

// --- host: in-process collector, followed ----------------------------------

class HostSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(
      const SessionSettings& settings) {
    LineHostBufferOptions options;
    options.maxlen = settings.buffer_lines;
    options.log = [](absl::string_view) {};  // killed workers are expected
    SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<LineHostBuffer> buffer,
                                LineHostBuffer::Start(std::move(options)));
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<LineHostReader> reader,
        LineHostReader::Connect(buffer->address(), {}, absl::Seconds(10)));
    SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<HostFollower> follower,
                                reader->Follow(0));
    return std::unique_ptr<Session>(new HostSession(
        std::move(buffer), std::move(follower), settings.sink));
  }

  ~HostSession() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(
      int worker) override {
    return OpenHostChannel(buffer_->address(), worker);
  }

  absl::Status PrepareWorker(int worker, WorkerLaunch* launch) override {
    launch->token = buffer_->address().ToString();
    return absl::OkStatus();
  }

  absl::Status Drain(absl::Duration timeout) override {
    const uint64_t target = buffer_->stats().records_stored;
    const absl::Time deadline = ::syncstream::Now() + timeout;
    std::unique_lock<std::mutex> lock(mutex_);
    if (!WaitUntilReady(caught_up_, lock, deadline,
                        [&] { return seen_ >= target; })) {
      return absl::DeadlineExceededError(absl::StrCat(
          "host follower saw ", seen_, " of ", target, " records"));
    }
    return absl::OkStatus();
  }

  std::string address() const { return buffer_->address().ToString(); }

 private:
  HostSession(std::unique_ptr<LineHostBuffer> buffer,
              std::unique_ptr<HostFollower> follower, LineSink* sink)
      : buffer_(std::move(buffer)),
        follower_(std::move(follower)),
        sink_(sink),
        thread_([this] { Follow(); }) {}

  void Follow() {
    while (!stop_.load()) {
      absl::StatusOr<std::vector<Record>> more =
          follower_->Next(absl::Milliseconds(100));
      if (!more.ok()) {
        if (more.status().code() == absl::StatusCode::kDeadlineExceeded) {
          continue;
        }
        sink_->CollectorError(more.status());
        return;
      }
      sink_->Receive(*more);
      std::lock_guard<std::mutex> guard(mutex_);
      seen_ += more->size();
      caught_up_.notify_all();
    }
  }

  std::unique_ptr<LineHostBuffer> buffer_;
  std::unique_ptr<HostFollower> follower_;
  LineSink* const sink_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable caught_up_;
  uint64_t seen_ = 0;
  std::thread thread_;
};

class HostKind : public Kind {
 public:
  absl::string_view name() const override { return "host"; }
  absl::string_view description() const override {
    return "workers write through their own LineHostMirror to an in-process "
           "LineHostBuffer on loopback TCP; commit point: acknowledged by "
           "the collector";
  }
  bool Supports(SpawnMode mode) const override { return true; }
  bool SupportsKill() const override { return true; }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return HostSession::Start(settings);
  }
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token) override {
    SYNCSTREAM_ASSIGN_OR_RETURN(net::Address address, net::ParseAddress(token));
    return OpenHostChannel(address, worker);
  }
};

// --- a session whose server a thread kills and restarts ------------------

// The part host_restart and nats share: workers reach the server at
// address_, and a restarter thread kills and restarts it (Restart()) until
// StopRestarting(). Every subclass's destructor calls StopRestarting() first,
// so that Restart() never runs on a destroyed subclass.
class RestartingSession : public Session {
 public:
  absl::Status PrepareWorker(int worker, WorkerLaunch* launch) override {
    launch->token = address_.ToString();
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(
      int worker) override {
    return OpenHostChannel(address_, worker);
  }

 protected:
  explicit RestartingSession(const SessionSettings& settings)
      : settings_(settings) {}

  // Kills and restarts the server until stop_ is set (under mutex_).
  virtual void Restart() = 0;

  void StartRestarting() {
    restarter_ = std::thread([this] { Restart(); });
  }

  void StopRestarting() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stop_ = true;
      cv_.notify_all();
    }
    if (restarter_.joinable()) restarter_.join();
  }

  // Waits `wait` (none if it is not positive) with `lock` on mutex_ held;
  // true once StopRestarting() was called.
  bool WaitForStop(std::unique_lock<std::mutex>& lock, absl::Duration wait) {
    return cv_.wait_for(lock,
                        std::chrono::microseconds(std::max<int64_t>(
                            0, absl::ToInt64Microseconds(wait))),
                        [this] { return stop_; });
  }

  const SessionSettings settings_;
  net::Address address_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;

 private:
  std::thread restarter_;
};

// --- host_restart: a forked collector, killed and restarted ----------------

class RestartSession : public RestartingSession {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(
      const SessionSettings& settings) {
    std::unique_ptr<RestartSession> session(new RestartSession(settings));
    SYNCSTREAM_RETURN_IF_ERROR(session->StartCollector());
    session->StartRestarting();
    return std::unique_ptr<Session>(std::move(session));
  }

  ~RestartSession() override { StopRestarting(); }

  absl::Status Drain(absl::Duration timeout) override {
    StopRestarting();
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<LineHostReader> reader,
        LineHostReader::Connect(address_, {}, timeout));
    SYNCSTREAM_ASSIGN_OR_RETURN(HostInfo info, reader->Info(timeout));
    if (info.size >= info.maxlen) {
      settings_.sink->CollectorError(absl::ResourceExhaustedError(
          "host_restart: the collector is full; records may have been "
          "evicted (raise the buffer size)"));
    }
    SYNCSTREAM_ASSIGN_OR_RETURN(std::vector<Record> records,
                                reader->ReadAll(timeout));
    settings_.sink->Receive(records);
    return absl::OkStatus();
  }

 private:
  explicit RestartSession(const SessionSettings& settings)
      : RestartingSession(settings) {
    address_.family = net::Address::Family::kUnix;
    address_.path = settings.scratch_dir + "/collector.sock";
  }

  absl::Status StartCollector() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    UniqueFd ready_read(fds[0]);
    UniqueFd ready_write(fds[1]);
    const SessionSettings settings = settings_;
    const net::Address address = address_;
    SYNCSTREAM_ASSIGN_OR_RETURN(
        collector_, ChildProcess::Fork([&settings, &address, &ready_write] {
          LineHostBufferOptions options;
          options.listen = address;
          options.maxlen = settings.buffer_lines + 1;
          options.store_dir = settings.scratch_dir + "/store";
          options.log = [](absl::string_view) {};
          auto buffer = LineHostBuffer::Start(std::move(options));
          if (!buffer.ok()) {
            std::string why = absl::StrCat(
                "host_restart collector: ", buffer.status().ToString(), "\n");
            (void)!::write(STDERR_FILENO, why.data(), why.size());
            return 3;
          }
          char ok = 'r';
          if (::write(ready_write.get(), &ok, 1) != 1) return 4;
          for (;;) ::pause();  // until SIGKILLed
        }));
    ready_write.Reset();
    // The child says 'r' once it listens, or dies (EOF); a child stuck
    // before either is given up on after a deadline, never waited for
    // forever.
    struct pollfd ready = {ready_read.get(), POLLIN, 0};
    int polled;
    do {
      polled = ::poll(&ready, 1, /*timeout_ms=*/20000);
    } while (polled < 0 && errno == EINTR);
    char c;
    if (polled <= 0 || ::read(ready_read.get(), &c, 1) != 1) {
      collector_.Kill(SIGKILL).IgnoreError();
      return absl::InternalError(absl::StrCat(
          "host_restart: the collector did not start",
          polled == 0 ? " within 20 s" : ""));
    }
    return absl::OkStatus();
  }

  // Returns once the collector stored a record it did not hold when this
  // was called, at `deadline`, or when restarting stops.
  void AwaitNewRecords(absl::Time deadline) {
    auto reader = LineHostReader::Connect(address_, {}, absl::Seconds(2));
    if (!reader.ok()) return;
    auto follower = (*reader)->Follow(0, absl::Seconds(2));
    if (!follower.ok()) return;
    while (::syncstream::Now() < deadline) {
      {
        std::lock_guard<std::mutex> guard(mutex_);
        if (stop_) return;
      }
      absl::StatusOr<std::vector<Record>> more =
          (*follower)->Next(absl::Milliseconds(100));
      if (more.ok() && !more->empty()) return;
      if (!more.ok() &&
          more.status().code() != absl::StatusCode::kDeadlineExceeded) {
        return;
      }
    }
  }

  // Kills the collector every 150 ms, but only once it stored something
  // new (or after 10 s): on a loaded machine a collector's life may be too
  // short for any mirror to get a batch acknowledged, and killing it then
  // would stop all progress rather than test recovery.
  void Restart() override {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      const absl::Time life_began = ::syncstream::Now();
      lock.unlock();
      AwaitNewRecords(life_began + absl::Seconds(10));
      lock.lock();
      const absl::Duration left =
          life_began + absl::Milliseconds(150) - ::syncstream::Now();
      if (WaitForStop(lock, left)) break;
      collector_.Kill(SIGKILL).IgnoreError();
      collector_.Wait(absl::Seconds(10)).IgnoreError();
      absl::Status started = StartCollector();
      if (!started.ok()) {
        settings_.sink->CollectorError(started);
        return;
      }
      ++restarts_;
    }
  }

  ChildProcess collector_;
  int restarts_ = 0;
};

class HostRestartKind : public Kind {
 public:
  absl::string_view name() const override { return "host_restart"; }
  absl::string_view description() const override {
    return "as host, but the collector runs in a child process with a store "
           "and is SIGKILLed and restarted every 150 ms once it stored "
           "something new; nothing acknowledged "
           "may be lost or duplicated; commit point: acknowledged";
  }
  bool Supports(SpawnMode mode) const override { return true; }
  bool SupportsKill() const override { return true; }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return RestartSession::Start(settings);
  }
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token) override {
    SYNCSTREAM_ASSIGN_OR_RETURN(net::Address address, net::ParseAddress(token));
    return OpenHostChannel(address, worker);
  }
};

// --- nats: a JetStream stream on a nats-server, killed and restarted ------

class NatsSession : public RestartingSession {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(
      const SessionSettings& settings) {
    std::unique_ptr<NatsSession> session(new NatsSession(settings));
    nats::testing::NatsServerOptions options;
    options.directory = settings.scratch_dir;
    SYNCSTREAM_ASSIGN_OR_RETURN(session->server_,
                                nats::testing::NatsServer::Start(options));
    session->address_.family = net::Address::Family::kJetStream;
    session->address_.jetstream.servers = {
        {"127.0.0.1", static_cast<uint16_t>(session->server_->port())}};
    session->address_.jetstream.stream = "STRESS";
    nats::JetStreamStreamSettings stream;
    stream.max_lines = settings.buffer_lines + 1;
    SYNCSTREAM_RETURN_IF_ERROR(nats::testing::CreateStreamWhenReady(
        session->address_.jetstream, stream));
    session->StartRestarting();
    return std::unique_ptr<Session>(std::move(session));
  }

  ~NatsSession() override { StopRestarting(); }

  absl::Status Drain(absl::Duration timeout) override {
    StopRestarting();
    if (!server_->running()) SYNCSTREAM_RETURN_IF_ERROR(server_->Restart());
    SYNCSTREAM_ASSIGN_OR_RETURN(
        nats::JetStreamStreamInfo info,
        nats::GetJetStreamStreamInfo(address_.jetstream, {}, timeout));
    if (info.messages >= info.max_lines) {
      settings_.sink->CollectorError(absl::ResourceExhaustedError(
          "nats: the stream is full; batches may have been dropped (raise "
          "the buffer size)"));
    }
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<LineHostReader> reader,
        LineHostReader::Connect(address_, {}, timeout));
    SYNCSTREAM_ASSIGN_OR_RETURN(std::vector<Record> records,
                                reader->ReadAll(timeout));
    settings_.sink->Receive(records);
    return absl::OkStatus();
  }

 private:
  explicit NatsSession(const SessionSettings& settings)
      : RestartingSession(settings) {}

  void Restart() override {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (WaitForStop(lock, absl::Milliseconds(500))) break;
      absl::Status restarted = server_->Kill();
      if (restarted.ok()) restarted = server_->Restart();
      if (!restarted.ok()) {
        settings_.sink->CollectorError(restarted);
        return;
      }
    }
  }

  std::unique_ptr<nats::testing::NatsServer> server_;
};

// Whether `program` is an executable in a PATH directory.
bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    const std::string candidate = absl::StrCat(dir, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

class NatsKind : public Kind {
 public:
  absl::string_view name() const override { return "nats"; }
  absl::string_view description() const override {
    return "workers' LineHostMirrors publish to a NATS JetStream stream on a "
           "nats-server that is SIGKILLed and restarted every 500 ms; nothing "
           "acknowledged may be lost or duplicated; commit point: "
           "acknowledged by JetStream (only where nats-server is on PATH)";
  }
  bool Supports(SpawnMode mode) const override {
    static const bool present = OnPath("nats-server");
    return present;
  }
  bool SupportsKill() const override { return true; }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return NatsSession::Start(settings);
  }
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token) override {
    SYNCSTREAM_ASSIGN_OR_RETURN(net::Address address, net::ParseAddress(token));
    return OpenHostChannel(address, worker);
  }
};

SYNCSTREAM_REGISTER_STRESS_KIND(HostKind);
SYNCSTREAM_REGISTER_STRESS_KIND(NatsKind);
SYNCSTREAM_REGISTER_STRESS_KIND(HostRestartKind);

}  // namespace
}  // namespace syncstream::stress
