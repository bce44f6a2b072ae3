#include "syncstream/host/line_host_buffer.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/log_line.h"
#include "syncstream/core/record_store.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/host/internal/batch_codec.h"
#include "syncstream/host/internal/protocol.h"
#include "syncstream/host/internal/store_log.h"
#include "syncstream/net/accept_loop.h"
#include "syncstream/net/connection.h"
#include "syncstream/net/internal/proof.h"
#include "syncstream/net/listener.h"
#include "syncstream/net/peer_log_limiter.h"
#include "syncstream/proto/host.pb.h"

namespace syncstream {

using host::internal::kHostService;

namespace {

// 16 random bytes: tells this collector's record positions from another's.
absl::StatusOr<std::string> NewCollectorId() {
  SYNCSTREAM_ASSIGN_OR_RETURN(std::string nonce, net::internal::RandomNonce());
  return nonce.substr(0, 16);
}

}  // namespace

class LineHostBuffer::Impl {
 public:
  explicit Impl(LineHostBufferOptions options)
      : options_(std::move(options)) {
    if (!options_.log) {
      options_.log = [](absl::string_view message) {
        WriteLogLine("syncstream collector: ", message);
      };
    }
    if (options_.compact_after_records == 0) {
      options_.compact_after_records =
          std::max<size_t>(4 * options_.maxlen, 65536);
    }
  }

  ~Impl() { Shutdown(); }

  absl::Status Init();
  void Shutdown();

  const net::Address& address() const { return listener_->address(); }
  size_t maxlen() const { return store_->capacity(); }
  RecordStore& store() { return *store_; }

  void Clear();
  void StopAllMirrors();
  void ResetStates();
  bool stopped() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return stopped_;
  }
  // Lock order: never hold `mutex_` and `workers_mutex_` at once (each
  // section below takes one of them).
  Stats stats() const {
    Stats s;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      s = stats_;
    }
    std::lock_guard<std::mutex> workers(workers_mutex_);
    s.active_connections = workers_.size();
    return s;
  }

 private:
  struct MirrorState {
    uint64_t acked_through = 0;
    int live_connections = 0;
    absl::Time last_seen;
  };
  struct Worker {
    std::thread thread;
    int fd = -1;  // for shutdown(2); -1 once the worker closed it
    bool authenticated = false;  // the handshake succeeded
    bool done = false;
  };

  void AcceptLoop();
  void ReapWorkers();
  void Serve(std::list<Worker>::iterator self, net::Listener::AcceptedSocket s);
  absl::Status ServeConnection(const std::shared_ptr<net::Connection>& shared);
  absl::Status ServeMirror(const std::shared_ptr<net::Connection>& shared,
                           const proto::MirrorHello& hello);
  absl::Status ServeReader(net::Connection& connection,
                           proto::HostRequest request);
  absl::Status ServeFollower(net::Connection& connection,
                             const proto::HostRequest& request);
  absl::Status AnswerRead(net::Connection& connection,
                          const proto::HostRequest& request);
  absl::Status AnswerControl(net::Connection& connection,
                             const proto::HostRequest& request);
  proto::HostInfo Info() const;

  // Stores a mirror's batch (`records`: its validated, decoded records).
  // Returns the mirror's acked_through afterwards and whether stopped.
  absl::Status StoreBatch(const std::string& mirror_id,
                          proto::MirrorBatch* batch,
                          absl::Span<const Record> records,
                          uint64_t* acked_through, bool* stopped);
  absl::Status ResumeAfterLossLocked(const std::string& mirror_id,
                                     const proto::MirrorHello& hello,
                                     const std::string& name,
                                     MirrorState* state);
  absl::Status LogLocked(const proto::HostLogEntry& entry);
  absl::Status CompactLocked();
  absl::Status ReplayEntry(const proto::HostLogEntry& entry);
  void ForgetIdleMirrorsLocked();
  void Log(absl::string_view message) { options_.log(message); }
  // A line about what a peer did: a peer opening connection after
  // connection gets at most a few lines per 10 s (PeerLogLimiter).
  void LogAboutPeer(absl::string_view peer, absl::string_view message) {
    uint64_t held_back = 0;
    if (!peer_log_limiter_.Allow(peer, ::syncstream::Now(), &held_back)) {
      return;
    }
    if (held_back == 0) {
      Log(message);
    } else {
      Log(absl::StrCat(message, " (and ", held_back, " more lines about ",
                       net::PeerLogLimiter::PeerHost(peer),
                       " held back)"));
    }
  }

  LineHostBufferOptions options_;
  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<net::Listener> listener_;
  std::thread accept_thread_;
  std::atomic<bool> shutting_down_{false};
  net::PeerLogLimiter peer_log_limiter_;

  // Guards the mirrors' progress, the stopped state, the log and the order
  // in which batches enter the store. Never held together with
  // `workers_mutex_`, nor across network I/O that can wait.
  mutable std::mutex mutex_;
  std::unordered_map<std::string, MirrorState> mirrors_;
  bool stopped_ = false;
  std::unique_ptr<host::internal::StoreLog> log_;
  // Reused for every stored batch (their strings keep their storage).
  proto::HostLogEntry log_entry_;
  uint64_t logged_since_compaction_ = 0;
  // Start-up only: the records of the log entry being replayed.
  std::vector<Record> replayed_;
  // Set at start-up. A record's position (RecordChunk.first_position) is
  // position_base_ + its position in store_, so that positions go on where
  // they were across restarts with a store.
  std::string collector_id_;
  uint64_t position_base_ = 0;
  Stats stats_;
  // Mirror connections, to tell them at once when mirrors are stopped.
  std::unordered_set<std::shared_ptr<net::Connection>> mirror_connections_;

  mutable std::mutex workers_mutex_;
  std::list<Worker> workers_;
  std::condition_variable workers_cv_;
};

// --- Start-up and shutdown -------------------------------------------------

absl::Status LineHostBuffer::Impl::Init() {
  SYNCSTREAM_ASSIGN_OR_RETURN(store_, RecordStore::Create(options_.maxlen));
  if (!options_.store_dir.empty()) {
    host::internal::ReplayReport report;
    SYNCSTREAM_ASSIGN_OR_RETURN(
        log_, host::internal::StoreLog::Open(
                  options_.store_dir, options_.sync_store,
                  [this](const proto::HostLogEntry& e) { return ReplayEntry(e); },
                  &report));
    if (report.torn_tail_bytes > 0) {
      Log(absl::StrCat("store '", log_->path(), "': cut a torn tail of ",
                       report.torn_tail_bytes, " bytes after entry ",
                       report.entries, " (nothing acknowledged is lost)"));
    }
    if (report.discarded_bytes > report.torn_tail_bytes) {
      Log(absl::StrCat("store '", log_->path(), "': skipped ",
                       report.discarded_bytes - report.torn_tail_bytes,
                       " damaged bytes (", report.discarded_reason,
                       "): the lines they held are lost"));
    }
    if (collector_id_.empty()) {
      SYNCSTREAM_ASSIGN_OR_RETURN(collector_id_, NewCollectorId());
    }
    // Start from a compact log: the records held and every mirror's progress.
    std::lock_guard<std::mutex> guard(mutex_);
    SYNCSTREAM_RETURN_IF_ERROR(CompactLocked());
  } else {
    SYNCSTREAM_ASSIGN_OR_RETURN(collector_id_, NewCollectorId());
  }
  net::ConnectionOptions connection;
  connection.service = kHostService;
  connection.key = options_.key;
  connection.max_frame_bytes = options_.max_frame_bytes;
  if (log_ != nullptr) {
    // A stored batch becomes one log entry: a frame of at most
    // kMaxEntryBytes, holding the batch and its mirror's id.
    connection.max_frame_bytes = std::min<size_t>(
        connection.max_frame_bytes, host::internal::kMaxEntryBytes - 256);
  }
  connection.handshake_timeout = options_.handshake_timeout;
  SYNCSTREAM_ASSIGN_OR_RETURN(
      listener_, net::Listener::Listen(options_.listen, std::move(connection)));
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void LineHostBuffer::Impl::Shutdown() {
  if (shutting_down_.exchange(true)) {
    if (accept_thread_.joinable()) accept_thread_.join();
    return;
  }
  if (listener_ != nullptr) listener_->Shutdown();
  if (accept_thread_.joinable()) accept_thread_.join();
  std::unique_lock<std::mutex> lock(workers_mutex_);
  for (Worker& w : workers_) {
    if (w.fd >= 0) ::shutdown(w.fd, SHUT_RDWR);
  }
  for (Worker& w : workers_) {
    std::thread t = std::move(w.thread);
    lock.unlock();
    if (t.joinable()) t.join();
    lock.lock();
  }
  workers_.clear();
}

void LineHostBuffer::Impl::AcceptLoop() {
  net::AcceptLoopCallbacks callbacks;
  callbacks.log = [this](absl::string_view line) { Log(line); };
  callbacks.between = [this] { ReapWorkers(); };
  callbacks.on_accept = [this](net::Listener::AcceptedSocket accepted) {
    std::unique_lock<std::mutex> lock(workers_mutex_);
    // Connections still in the handshake have a budget of their own: when
    // it is spent, the oldest of them is dropped to make room, so that idle
    // unauthenticated peers can neither take the slots of authenticated
    // connections nor keep an honest client out until they time out.
    size_t handshaking = 0;
    Worker* oldest = nullptr;
    for (Worker& w : workers_) {
      if (w.done || w.authenticated || w.fd < 0) continue;
      if (oldest == nullptr) oldest = &w;  // workers_ is in accept order
      ++handshaking;
    }
    if (handshaking >= options_.max_handshaking_connections &&
        oldest != nullptr) {
      ::shutdown(oldest->fd, SHUT_RDWR);
      oldest->fd = -1;  // shut down once; its thread ends by itself
    }
    workers_.emplace_back();
    auto self = std::prev(workers_.end());
    self->fd = accepted.fd.get();
    self->thread = std::thread(
        [this, self, s = std::move(accepted)]() mutable {
          Serve(self, std::move(s));
        });
  };
  net::RunAcceptLoop(*listener_, callbacks);
}

void LineHostBuffer::Impl::ReapWorkers() {
  std::unique_lock<std::mutex> lock(workers_mutex_);
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done) {
      std::thread t = std::move(it->thread);
      it = workers_.erase(it);
      lock.unlock();
      t.join();
      lock.lock();
    } else {
      ++it;
    }
  }
}

void LineHostBuffer::Impl::Serve(std::list<Worker>::iterator self,
                                 net::Listener::AcceptedSocket socket) {
  std::shared_ptr<net::Connection> connection;
  {
    // A failed handshake closes the socket inside Accept(): while it runs,
    // the accept loop may shut it down through a duplicate, closed only once
    // the worker no longer names it.
    UniqueFd during_handshake(::dup(socket.fd.get()));
    {
      std::lock_guard<std::mutex> lock(workers_mutex_);
      if (self->fd >= 0) self->fd = during_handshake.get();
    }
    absl::StatusOr<std::unique_ptr<net::Connection>> accepted =
        net::Connection::Accept(std::move(socket.fd), socket.peer,
                                listener_->options());
    bool refused = false;
    size_t authenticated = 0;
    {
      std::lock_guard<std::mutex> lock(workers_mutex_);
      if (accepted.ok()) {
        for (const Worker& w : workers_) authenticated += w.authenticated;
        refused = authenticated >= options_.max_connections;
        self->authenticated = !refused;
        self->fd = refused ? -1 : (*accepted)->fd();
      } else {
        self->fd = -1;
      }
    }
    during_handshake.Reset();
    if (accepted.ok() && refused) {
      LogAboutPeer(socket.peer,
                   absl::StrCat((*accepted)->name(), ": refused: already ",
                                authenticated,
                                " connections (max_connections)"));
      accepted = absl::ResourceExhaustedError("max_connections");
      std::lock_guard<std::mutex> guard(mutex_);
      ++stats_.connections_refused;
    } else if (accepted.ok()) {
      connection = std::move(*accepted);
      std::lock_guard<std::mutex> guard(mutex_);
      ++stats_.connections_accepted;
    } else {
      if (!shutting_down_.load()) {
        LogAboutPeer(socket.peer, accepted.status().ToString());
      }
      std::lock_guard<std::mutex> guard(mutex_);
      ++stats_.connections_refused;
    }
  }
  if (connection != nullptr) {
    absl::Status served = ServeConnection(connection);
    if (!served.ok() && !shutting_down_.load()) {
      LogAboutPeer(socket.peer,
                   absl::StrCat(served.ToString(), " (connection closed)"));
    }
  }
  // Mark the fd gone before closing it, so Shutdown() never shuts down a
  // reused descriptor.
  {
    std::lock_guard<std::mutex> lock(workers_mutex_);
    self->fd = -1;
  }
  connection.reset();
  std::lock_guard<std::mutex> lock(workers_mutex_);
  self->done = true;
}

// --- Connections -----------------------------------------------------------

absl::Status LineHostBuffer::Impl::ServeConnection(
    const std::shared_ptr<net::Connection>& shared) {
  net::Connection& connection = *shared;
  proto::HostRequest request;
  SYNCSTREAM_RETURN_IF_ERROR(
      connection.Receive(&request, options_.idle_timeout));
  switch (request.request_case()) {
    case proto::HostRequest::kMirrorHello:
      return ServeMirror(shared, request.mirror_hello());
    case proto::HostRequest::kFollow:
      return ServeFollower(connection, request);
    case proto::HostRequest::kRead:
    case proto::HostRequest::kControl:
      return ServeReader(connection, std::move(request));
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          connection.name(), ": protocol error: unexpected first request (",
          static_cast<int>(request.request_case()), ")"));
  }
}

absl::Status LineHostBuffer::Impl::ServeMirror(
    const std::shared_ptr<net::Connection>& shared,
    const proto::MirrorHello& hello) {
  net::Connection& connection = *shared;
  if (hello.mirror_id().empty() || hello.mirror_id().size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        connection.name(), ": protocol error: mirror id of ",
        hello.mirror_id().size(), " bytes (1 to 64 expected)"));
  }
  if (hello.batch_encoding() != host::internal::kBatchEncodingVersion) {
    // Tell the mirror why (it reports this as its status), then close.
    const std::string why = absl::StrCat(
        "collector: the mirror sends record batch encoding ",
        hello.batch_encoding(), ", this collector reads ",
        host::internal::kBatchEncodingVersion,
        " (upgrade the older side)");
    proto::HostReply refusal;
    refusal.mutable_failure()->set_code(
        static_cast<int>(absl::StatusCode::kFailedPrecondition));
    refusal.mutable_failure()->set_message(why);
    connection.SendNow(refusal, options_.io_timeout).IgnoreError();
    return absl::FailedPreconditionError(
        absl::StrCat(connection.name(), ": ", why));
  }
  const std::string id = hello.mirror_id();
  const std::string name =
      absl::StrCat(connection.name(), ", mirror '",
                   absl::CHexEscape(hello.name().substr(0, 128)), "'");
  proto::HostReply reply;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    MirrorState& state = mirrors_[id];
    if (hello.acked_through() > state.acked_through) {
      SYNCSTREAM_RETURN_IF_ERROR(
          ResumeAfterLossLocked(id, hello, name, &state));
    }
    ++state.live_connections;
    state.last_seen = ::syncstream::Now();
    mirror_connections_.insert(shared);
    reply.mutable_welcome()->set_acked_through(state.acked_through);
    reply.mutable_welcome()->set_stopped(stopped_);
    if (mirrors_.size() > options_.max_mirrors_remembered) {
      ForgetIdleMirrorsLocked();
    }
  }
  struct Unregister {
    Impl* impl;
    const std::shared_ptr<net::Connection>& connection;
    const std::string& id;
    ~Unregister() {
      std::lock_guard<std::mutex> guard(impl->mutex_);
      impl->mirror_connections_.erase(connection);
      auto it = impl->mirrors_.find(id);
      if (it != impl->mirrors_.end()) {
        --it->second.live_connections;
        it->second.last_seen = ::syncstream::Now();
      }
    }
  } unregister{this, shared, id};
  SYNCSTREAM_RETURN_IF_ERROR(connection.SendNow(reply, options_.io_timeout));

  proto::HostRequest request;
  // Each batch is decoded here, outside the collector's lock, into these
  // records (reused: their strings keep their storage from batch to batch),
  // then appended to the store in one claim.
  std::vector<Record> records;
  uint64_t acked_through = reply.welcome().acked_through();
  bool stopped = reply.welcome().stopped();
  bool ack_owed = false;
  for (;;) {
    host::internal::ClearForReuse(&request);
    absl::Status received =
        connection.ReceiveMerging(&request, options_.idle_timeout);
    if (!received.ok()) {
      if (received.code() == absl::StatusCode::kUnavailable) {
        return absl::OkStatus();  // the mirror went away; it will resend
      }
      return absl::Status(received.code(),
                          absl::StrCat(name, ": ", received.message()));
    }
    if (request.request_case() == proto::HostRequest::kGoodbye) {
      std::lock_guard<std::mutex> guard(mutex_);
      auto it = mirrors_.find(id);
      if (it != mirrors_.end() && it->second.live_connections == 1) {
        if (log_ != nullptr) {
          proto::HostLogEntry entry;
          entry.mutable_progress()->set_mirror_id(id);
          entry.mutable_progress()->set_forget(true);
          SYNCSTREAM_RETURN_IF_ERROR(LogLocked(entry));
        }
        mirrors_.erase(it);
      }
      return absl::OkStatus();
    }
    if (request.request_case() != proto::HostRequest::kBatch) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": protocol error: request ",
          static_cast<int>(request.request_case()), " on a mirror connection"));
    }
    proto::MirrorBatch* batch = request.mutable_batch();
    if (batch->sequence() == 0) {  // also an empty frame merged into a batch
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": protocol error: batch without a sequence number"));
    }
    // The whole batch is validated before any of it is used.
    absl::StatusOr<size_t> count =
        host::internal::DecodeBatch(batch->records(), &records);
    if (!count.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": batch ", batch->sequence(), ": ",
          count.status().message()));
    }
    SYNCSTREAM_RETURN_IF_ERROR(StoreBatch(
        id, batch, absl::MakeConstSpan(records.data(), *count),
        &acked_through, &stopped));
    ack_owed = true;
    // One acknowledgement for everything already received.
    if (ack_owed && !connection.HasBufferedFrame()) {
      proto::HostReply ack;
      ack.mutable_ack()->set_acked_through(acked_through);
      ack.mutable_ack()->set_stopped(stopped);
      absl::Status sent = connection.SendNow(ack, options_.io_timeout);
      if (!sent.ok()) {
        return absl::Status(sent.code(),
                            absl::StrCat(name, ": ", sent.message()));
      }
      ack_owed = false;
    }
  }
}

// A mirror resumes after a batch this collector does not hold: it was
// acknowledged by this collector before a restart without a store (or before
// the store was lost or the mirror forgotten). Waiting for batches that will
// never be resent would refuse the mirror forever, so the collector resumes
// with it and says once, in the log and in a warning record among the lines,
// that the lines of those batches are not here.
absl::Status LineHostBuffer::Impl::ResumeAfterLossLocked(
    const std::string& mirror_id, const proto::MirrorHello& hello,
    const std::string& name, MirrorState* state) {
  const std::string what = absl::StrCat(
      "mirror '", absl::CHexEscape(hello.name().substr(0, 128)),
      "' resumes after its batch ", hello.acked_through(),
      ", but this collector holds its batches only up to ",
      state->acked_through,
      " (restarted without --store, or its store was lost): the lines of "
      "batches ",
      state->acked_through + 1, " to ", hello.acked_through(),
      " are lost unless a reader already has them");
  Log(absl::StrCat(name, ": ", what));
  Record warning;
  warning.kind = RecordKind::kWarning;
  warning.sender = std::string(hello.name().substr(0, 128));
  warning.type = "syncstream";
  warning.timestamp = ::syncstream::Now();
  warning.text = absl::StrCat("collector: ", what);
  if (log_ != nullptr) {
    proto::HostLogEntry entry;
    entry.mutable_progress()->set_mirror_id(mirror_id);
    entry.mutable_progress()->set_acked_through(hello.acked_through());
    SYNCSTREAM_RETURN_IF_ERROR(LogLocked(entry));
    entry.Clear();
    host::internal::BatchEncoder encoder;
    encoder.Reset(entry.mutable_batch()->mutable_records());
    encoder.Add(warning);
    SYNCSTREAM_RETURN_IF_ERROR(LogLocked(entry));
  }
  store_->Append(warning);
  state->acked_through = hello.acked_through();
  return absl::OkStatus();
}

absl::Status LineHostBuffer::Impl::StoreBatch(
    const std::string& mirror_id, proto::MirrorBatch* batch,
    absl::Span<const Record> records, uint64_t* acked_through,
    bool* stopped) {
  const size_t count = records.size();
  std::lock_guard<std::mutex> guard(mutex_);
  MirrorState& state = mirrors_[mirror_id];
  state.last_seen = ::syncstream::Now();
  *stopped = stopped_;
  if (stopped_) {
    *acked_through = state.acked_through;
    return absl::OkStatus();  // refused: the mirror learns from the ack
  }
  if (batch->sequence() <= state.acked_through) {
    ++stats_.duplicate_batches;
    *acked_through = state.acked_through;
    return absl::OkStatus();
  }
  if (batch->sequence() != state.acked_through + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mirror protocol error: batch ", batch->sequence(), " after batch ",
        state.acked_through, " (a gap)"));
  }
  if (log_ != nullptr) {
    // The batch's bytes go to the log as they came (moved in and back out).
    log_entry_.mutable_batch()->set_mirror_id(mirror_id);
    log_entry_.mutable_batch()->set_sequence(batch->sequence());
    log_entry_.mutable_batch()->mutable_records()->swap(
        *batch->mutable_records());
    absl::Status logged = LogLocked(log_entry_);
    log_entry_.mutable_batch()->mutable_records()->swap(
        *batch->mutable_records());
    SYNCSTREAM_RETURN_IF_ERROR(logged);
    logged_since_compaction_ += count;
  }
  store_->AppendBatch(records);
  state.acked_through = batch->sequence();
  *acked_through = state.acked_through;
  ++stats_.batches_stored;
  stats_.records_stored += count;
  if (log_ != nullptr &&
      logged_since_compaction_ >= options_.compact_after_records) {
    absl::Status compacted = CompactLocked();
    if (!compacted.ok()) Log(compacted.ToString());
  }
  return absl::OkStatus();
}

absl::Status LineHostBuffer::Impl::ServeReader(net::Connection& connection,
                                               proto::HostRequest request) {
  for (;;) {
    switch (request.request_case()) {
      case proto::HostRequest::kRead:
        SYNCSTREAM_RETURN_IF_ERROR(AnswerRead(connection, request));
        break;
      case proto::HostRequest::kControl:
        SYNCSTREAM_RETURN_IF_ERROR(AnswerControl(connection, request));
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            connection.name(), ": protocol error: request ",
            static_cast<int>(request.request_case()),
            " on a reader connection"));
    }
    absl::Status received = connection.Receive(&request, options_.idle_timeout);
    if (received.code() == absl::StatusCode::kUnavailable) {
      return absl::OkStatus();
    }
    SYNCSTREAM_RETURN_IF_ERROR(received);
  }
}

proto::HostInfo LineHostBuffer::Impl::Info() const {
  proto::HostInfo info;
  info.set_size(store_->Size());
  info.set_maxlen(store_->capacity());
  info.set_stopped(stopped());
  return info;
}

absl::Status LineHostBuffer::Impl::AnswerRead(
    net::Connection& connection, const proto::HostRequest& request) {
  const proto::ReadRequest& read = request.read();
  std::vector<Record> records = read.all() ? store_->Read()
                                           : store_->Read(read.count());
  // Chunks well under the frame limit.
  const size_t chunk_bytes =
      std::min<size_t>(1 << 20, options_.max_frame_bytes / 2);
  proto::HostReply reply;
  reply.set_request_id(request.request_id());
  size_t bytes = 0;
  for (const Record& record : records) {
    size_t size = record.text.size() + record.sender.size() +
                  record.type.size() + 32;
    for (const std::string& t : record.trace) size += t.size() + 2;
    if (bytes > 0 && bytes + size > chunk_bytes) {
      SYNCSTREAM_RETURN_IF_ERROR(connection.Send(reply, options_.io_timeout));
      reply.mutable_records()->Clear();
      bytes = 0;
    }
    ToProto(record, reply.mutable_records()->mutable_batch()->add_records());
    bytes += size;
  }
  reply.mutable_records()->set_last(true);
  *reply.mutable_records()->mutable_info() = Info();
  SYNCSTREAM_RETURN_IF_ERROR(connection.Send(reply, options_.io_timeout));
  return connection.Flush(options_.io_timeout);
}

absl::Status LineHostBuffer::Impl::AnswerControl(
    net::Connection& connection, const proto::HostRequest& request) {
  proto::HostReply reply;
  reply.set_request_id(request.request_id());
  switch (request.control().action()) {
    case proto::ControlRequest::INFO:
      break;
    case proto::ControlRequest::CLEAR:
      Clear();
      break;
    case proto::ControlRequest::STOP_ALL_MIRRORS:
      StopAllMirrors();
      break;
    case proto::ControlRequest::RESET:
      ResetStates();
      break;
    default:
      reply.mutable_failure()->set_code(
          static_cast<int>(absl::StatusCode::kInvalidArgument));
      reply.mutable_failure()->set_message(absl::StrCat(
          "unknown control action ",
          static_cast<int>(request.control().action())));
      return connection.SendNow(reply, options_.io_timeout);
  }
  *reply.mutable_info() = Info();
  return connection.SendNow(reply, options_.io_timeout);
}

absl::Status LineHostBuffer::Impl::ServeFollower(
    net::Connection& connection, const proto::HostRequest& request) {
  const proto::FollowRequest& follow = request.follow();
  const uint64_t end = store_->end_position();
  const uint64_t first_held = end - std::min<uint64_t>(end, store_->Size());
  uint64_t next;
  bool restarted = false;
  if (follow.resume()) {
    const uint64_t want = follow.from_position();  // public position
    const bool ours = follow.collector_id().empty() ||
                      follow.collector_id() == collector_id_;
    if (ours && want <= position_base_ + end) {
      // Older than everything held: ReadFrom starts at the oldest record,
      // and the follower sees the gap in the positions.
      next = want >= position_base_ ? want - position_base_ : 0;
    } else {
      restarted = true;
      next = first_held;
    }
  } else {
    next = end - std::min<uint64_t>(end - first_held, follow.last());
  }
  proto::HostReply reply;
  reply.set_request_id(request.request_id());
  reply.mutable_records()->set_collector_id(collector_id_);
  reply.mutable_records()->set_restarted(restarted);
  bool announced = false;
  proto::HostRequest ignored;
  while (!shutting_down_.load()) {
    uint64_t from = next;
    std::vector<Record> records = store_->ReadFrom(from, 4096, &next);
    if (!records.empty() || !announced) {
      // Records evicted meanwhile are skipped at the front.
      reply.mutable_records()->mutable_batch()->Clear();
      reply.mutable_records()->set_first_position(position_base_ + next -
                                                  records.size());
      for (const Record& r : records) {
        ToProto(r, reply.mutable_records()->mutable_batch()->add_records());
      }
      announced = true;
      absl::Status sent = connection.SendNow(reply, options_.io_timeout);
      reply.mutable_records()->set_restarted(false);
      if (!sent.ok()) {
        return absl::Status(sent.code(),
                            absl::StrCat(sent.message(), " (slow follower)"));
      }
      continue;
    }
    store_->WaitForAppend(next, ::syncstream::Now() + absl::Milliseconds(200));
    // Notice a follower that went away.
    absl::Status alive = connection.Receive(&ignored, absl::ZeroDuration());
    if (alive.code() == absl::StatusCode::kUnavailable) return absl::OkStatus();
    if (!alive.ok() && alive.code() != absl::StatusCode::kDeadlineExceeded) {
      return alive;
    }
  }
  return absl::OkStatus();
}

// --- States ----------------------------------------------------------------

absl::Status LineHostBuffer::Impl::LogLocked(const proto::HostLogEntry& entry) {
  if (log_ == nullptr) return absl::OkStatus();
  return log_->Append(entry);
}

void LineHostBuffer::Impl::Clear() {
  std::lock_guard<std::mutex> guard(mutex_);
  proto::HostLogEntry entry;
  entry.set_control(proto::ControlRequest::CLEAR);
  absl::Status logged = LogLocked(entry);
  if (!logged.ok()) Log(logged.ToString());
  store_->Clear();
}

void LineHostBuffer::Impl::StopAllMirrors() {
  std::vector<std::shared_ptr<net::Connection>> connected;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    proto::HostLogEntry entry;
    entry.set_control(proto::ControlRequest::STOP_ALL_MIRRORS);
    absl::Status logged = LogLocked(entry);
    if (!logged.ok()) Log(logged.ToString());
    stopped_ = true;
    connected.assign(mirror_connections_.begin(), mirror_connections_.end());
  }
  // Tell connected mirrors now rather than at their next batch, without the
  // collector's lock and without waiting for a mirror that does not read:
  // what does not fit in its socket now goes with the next acknowledgement,
  // which also says "stopped".
  proto::HostReply notice;
  notice.mutable_ack()->set_stopped(true);
  for (const std::shared_ptr<net::Connection>& c : connected) {
    c->Send(notice, absl::ZeroDuration()).IgnoreError();
    c->Flush(absl::ZeroDuration()).IgnoreError();
  }
}

void LineHostBuffer::Impl::ResetStates() {
  std::lock_guard<std::mutex> guard(mutex_);
  proto::HostLogEntry entry;
  entry.set_control(proto::ControlRequest::RESET);
  absl::Status logged = LogLocked(entry);
  if (!logged.ok()) Log(logged.ToString());
  stopped_ = false;
  store_->Clear();
}

absl::Status LineHostBuffer::Impl::ReplayEntry(
    const proto::HostLogEntry& entry) {
  switch (entry.entry_case()) {
    case proto::HostLogEntry::kBatch: {
      Record record;
      // Format version 2 logged Record messages; version 3 logs the batch
      // encoding.
      for (const proto::Record& message : entry.batch().batch().records()) {
        SYNCSTREAM_RETURN_IF_ERROR(FromProto(message, &record));
        store_->Append(record);
      }
      if (!entry.batch().records().empty()) {
        SYNCSTREAM_ASSIGN_OR_RETURN(
            const size_t count,
            host::internal::DecodeBatch(entry.batch().records(),
                                        &replayed_));
        store_->AppendBatch(absl::MakeConstSpan(replayed_.data(), count));
      }
      if (!entry.batch().mirror_id().empty()) {
        MirrorState& state = mirrors_[entry.batch().mirror_id()];
        state.acked_through =
            std::max(state.acked_through, entry.batch().sequence());
      }
      return absl::OkStatus();
    }
    case proto::HostLogEntry::kControl:
      switch (entry.control()) {
        case proto::ControlRequest::CLEAR:
          store_->Clear();
          break;
        case proto::ControlRequest::STOP_ALL_MIRRORS:
          stopped_ = true;
          break;
        case proto::ControlRequest::RESET:
          stopped_ = false;
          store_->Clear();
          break;
        default:
          break;
      }
      return absl::OkStatus();
    case proto::HostLogEntry::kPosition:
      collector_id_ = entry.position().collector_id();
      position_base_ =
          entry.position().next_position() - store_->end_position();
      return absl::OkStatus();
    case proto::HostLogEntry::kProgress:
      if (entry.progress().forget()) {
        mirrors_.erase(entry.progress().mirror_id());
      } else {
        MirrorState& state = mirrors_[entry.progress().mirror_id()];
        state.acked_through =
            std::max(state.acked_through, entry.progress().acked_through());
      }
      return absl::OkStatus();
    default:
      return absl::DataLossError("log entry of an unknown kind");
  }
}

absl::Status LineHostBuffer::Impl::CompactLocked() {
  if (log_ == nullptr) return absl::OkStatus();
  absl::Status status = log_->Rewrite([this](const auto& emit) {
    proto::HostLogEntry entry;
    {
      // The position of the first record held, the records follow.
      const uint64_t end = store_->end_position();
      entry.mutable_position()->set_collector_id(collector_id_);
      entry.mutable_position()->set_next_position(
          position_base_ + end - std::min<uint64_t>(end, store_->Size()));
      SYNCSTREAM_RETURN_IF_ERROR(emit(entry));
      entry.Clear();
    }
    for (const auto& [id, state] : mirrors_) {
      entry.mutable_progress()->set_mirror_id(id);
      entry.mutable_progress()->set_acked_through(state.acked_through);
      SYNCSTREAM_RETURN_IF_ERROR(emit(entry));
    }
    if (stopped_) {
      entry.Clear();
      entry.set_control(proto::ControlRequest::STOP_ALL_MIRRORS);
      SYNCSTREAM_RETURN_IF_ERROR(emit(entry));
    }
    entry.Clear();
    std::vector<Record> records = store_->Read();
    host::internal::BatchEncoder encoder;
    encoder.Reset(entry.mutable_batch()->mutable_records());
    for (size_t i = 0; i < records.size(); ++i) {
      encoder.Add(records[i]);
      if (encoder.count() == 4096 || encoder.bytes() >= (4 << 20) ||
          i + 1 == records.size()) {
        SYNCSTREAM_RETURN_IF_ERROR(emit(entry));
        encoder.Reset(entry.mutable_batch()->mutable_records());
      }
    }
    return absl::OkStatus();
  });
  if (status.ok()) logged_since_compaction_ = 0;
  return status;
}

void LineHostBuffer::Impl::ForgetIdleMirrorsLocked() {
  // Forget the least recently seen disconnected mirrors, down to 90%.
  std::vector<std::pair<absl::Time, std::string>> idle;
  for (const auto& [id, state] : mirrors_) {
    if (state.live_connections == 0) idle.emplace_back(state.last_seen, id);
  }
  std::sort(idle.begin(), idle.end());
  size_t target = options_.max_mirrors_remembered * 9 / 10;
  for (const auto& [seen, id] : idle) {
    if (mirrors_.size() <= target) break;
    mirrors_.erase(id);
  }
}

// --- The public class ------------------------------------------------------

LineHostBuffer::LineHostBuffer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

LineHostBuffer::~LineHostBuffer() { impl_->Shutdown(); }

absl::StatusOr<std::unique_ptr<LineHostBuffer>> LineHostBuffer::Start(
    LineHostBufferOptions options) {
  if (options.maxlen == 0) {
    return absl::InvalidArgumentError("host buffer: maxlen must be at least 1");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  SYNCSTREAM_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<LineHostBuffer>(new LineHostBuffer(std::move(impl)));
}

const net::Address& LineHostBuffer::address() const {
  return impl_->address();
}
size_t LineHostBuffer::maxlen() const { return impl_->maxlen(); }
std::vector<Record> LineHostBuffer::Read() const {
  return impl_->store().Read();
}
std::vector<Record> LineHostBuffer::Read(size_t n) const {
  return impl_->store().Read(n);
}
size_t LineHostBuffer::Size() const { return impl_->store().Size(); }
void LineHostBuffer::Clear() { impl_->Clear(); }
void LineHostBuffer::StopAllMirrors() { impl_->StopAllMirrors(); }
void LineHostBuffer::ResetStates() { impl_->ResetStates(); }
bool LineHostBuffer::stopped() const { return impl_->stopped(); }
LineHostBuffer::Stats LineHostBuffer::stats() const { return impl_->stats(); }
void LineHostBuffer::Shutdown() { impl_->Shutdown(); }

}  // namespace syncstream
