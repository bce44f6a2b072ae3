// //testing/bench:host — lines per second from client processes to one
// LineHostBuffer collector over loopback TCP, with acknowledgements on,
// beside same-run baselines over the same kind of socket (net::Connection)
// to a server that only receives and decodes (no store, no acks):
//  - raw encoded batches (the baseline, the practical limit): the same
//    lines as records in the host protocol's batch encoding, framed;
//  - raw protobuf RecordBatch frames: the wire form before that encoding,
//    for comparison.
// With --mode jetstream (or all): the same clients publishing to a
// single-node NATS JetStream stream with file storage (a nats-server started
// here, Debian's), LineHostMirror acknowledged batch by batch, beside a raw
// cnats publisher of the same encoded batches (asynchronous, up to 32
// unacknowledged, each acknowledged by the end): JetStream's own limit.
// Every run makes its lines the same way (LineMaker) and stamps them with
// the same coarse clock as LineWriter. Each line prints lines/s and the CPU
// time per line of the client processes and of the server process: the
// latter hardly depend on the machine's load.
//
//   ./bazelw run -c opt //testing/bench:host -- [--clients 4] [--lines 2000000]
//       [--mode all|raw|protobuf|host|jetstream]
#include <gflags/gflags.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/record.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/host/internal/batch_codec.h"
#include "syncstream/host/internal/protocol.h"
#include "syncstream/host/line_host_buffer.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/nats/internal/client.h"
#include "syncstream/nats/jetstream_stream.h"
#include "syncstream/nats/testing/nats_server.h"
#include "syncstream/net/connection.h"
#include "syncstream/net/listener.h"
#include "syncstream/proto/host.pb.h"
#include "syncstream/proto/record.pb.h"
#include "syncstream/core/deadline.h"
#include "tools/flag_help.h"

DEFINE_int32(clients, 4, "client processes");
DEFINE_int64(lines, 2000000, "lines per client");
DEFINE_int32(line_bytes, 40, "bytes per line, without the line break");
DEFINE_int32(batch, 4096, "records per batch (both sides)");
DEFINE_int64(maxlen, 1 << 20, "the collector's maxlen (records kept)");
DEFINE_int32(jetstream_replicas, 1,
             "jetstream mode: 1 (one nats-server) or 3 (a 3-node cluster on "
             "loopback and a stream with 3 replicas)");
DEFINE_bool(verbose, false, "print each mirror's batch statistics");
DEFINE_string(mode, "all",
              "what to measure: all, raw (the baseline), protobuf (the old "
              "wire form), host, or jetstream (mirrors and a raw cnats "
              "publisher to a JetStream stream)");

namespace syncstream {
namespace {

// Makes the lines "client C line NNNNNNNNNN xxx...\n" (line_bytes + 1
// bytes). Both runs make their lines this way, and cheaply (only the digits
// are rewritten), so that the writing side is measured, not the formatting:
// absl::StrFormat cost ~1000 instructions a line, more than the raw transport.
class LineMaker {
 public:
  explicit LineMaker(int client)
      : line_(absl::StrCat("client ", client, " line ")),
        digits_at_(line_.size()) {
    line_.append(11, ' ');
    line_.resize(std::max<size_t>(FLAGS_line_bytes, line_.size()), 'x');
    line_.push_back('\n');
  }
  const std::string& Line(int64_t i) {
    for (int d = 9; d >= 0; --d, i /= 10) {
      line_[digits_at_ + d] = static_cast<char>('0' + i % 10);
    }
    return line_;
  }

 private:
  std::string line_;
  const size_t digits_at_;
};

// The clients are forked before the server starts (a collector's store
// forked into them would make the collector pay a copy-on-write fault for
// every page it then writes), then wait on a pipe for the server's address,
// so that every client starts at the same time.
struct StartGate {
  static constexpr size_t kMessageBytes = 128;  // < PIPE_BUF: atomic
  UniqueFd read_end, write_end;
  StartGate() {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
  }
  net::Address Wait() {
    char message[kMessageBytes];
    if (::read(read_end.get(), message, sizeof(message)) !=
        static_cast<ssize_t>(sizeof(message))) {
      _exit(9);
    }
    auto address = net::ParseAddress(message);
    if (!address.ok()) _exit(10);
    return *address;
  }
  void Open(int clients, const net::Address& address) {
    char message[kMessageBytes] = {};
    const std::string text = address.ToString();
    if (text.size() >= sizeof(message)) std::abort();
    std::memcpy(message, text.data(), text.size());
    for (int c = 0; c < clients; ++c) {
      if (::write(write_end.get(), message, sizeof(message)) !=
          static_cast<ssize_t>(sizeof(message))) {
        std::abort();
      }
    }
  }
};

// The coarse clock LineWriter stamps its records with (see
// LineWriterOptions::precise_timestamps), for the baselines' records.
absl::Time CoarseNow() {
  timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return absl::FromUnixNanos(static_cast<int64_t>(now.tv_sec) * 1000000000 +
                             now.tv_nsec);
}

double CpuSeconds(int who) {
  rusage usage;
  ::getrusage(who, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// CPU time of one run, in nanoseconds per line: the client processes (all
// their threads) and this process (the server or collector). Unlike lines/s
// these hardly depend on what else runs on the machine.
struct Cpu {
  double clients_ns = 0;
  double server_ns = 0;
};
Cpu last_cpu;

// Forks the clients, calls `start_server` (which returns where the clients
// connect), runs client(c, address) in each and waits for them all.
// Then calls `wait_server` (which returns once the server has everything).
double RunClients(const std::function<net::Address()>& start_server,
                  const std::function<int(int, const net::Address&)>& client,
                  const std::function<void()>& wait_server) {
  StartGate gate;
  std::vector<ChildProcess> children;
  for (int c = 0; c < FLAGS_clients; ++c) {
    auto child = ChildProcess::Fork([&, c] {
      const net::Address address = gate.Wait();
      return client(c, address);
    });
    if (!child.ok()) {
      std::cerr << child.status() << "\n";
      std::exit(1);
    }
    children.push_back(std::move(*child));
  }
  const net::Address address = start_server();
  const double children_before = CpuSeconds(RUSAGE_CHILDREN);
  const double self_before = CpuSeconds(RUSAGE_SELF);
  const absl::Time start = ::syncstream::Now();
  gate.Open(FLAGS_clients, address);
  for (auto& child : children) {
    auto status = child.Wait(absl::Minutes(10));
    if (!status.ok() || !status->success()) {
      std::cerr << "client failed: "
                << (status.ok() ? status->ToString()
                                : status.status().ToString())
                << "\n";
      std::exit(1);
    }
  }
  wait_server();
  const double seconds = absl::ToDoubleSeconds(::syncstream::Now() - start);
  const double lines = static_cast<double>(FLAGS_clients) * FLAGS_lines;
  last_cpu.clients_ns =
      1e9 * (CpuSeconds(RUSAGE_CHILDREN) - children_before) / lines;
  last_cpu.server_ns = 1e9 * (CpuSeconds(RUSAGE_SELF) - self_before) / lines;
  return seconds;
}

// A client: client c's lines through a LineHostMirror to `address` (a
// collector or a JetStream stream), all acknowledged. Returns the client's
// exit code.
int RunMirrorClient(int c, const net::Address& address) {
  LineHostMirrorOptions mirror_options;
  mirror_options.collector = address;
  mirror_options.writer.name = absl::StrCat("client", c);
  mirror_options.batch_max_records = FLAGS_batch;
  auto mirror = LineHostMirror::Create(mirror_options);
  if (!mirror.ok()) {
    std::cerr << mirror.status() << "\n";
    return 2;
  }
  LineMaker lines(c);
  for (int64_t i = 0; i < FLAGS_lines; ++i) {
    if (!(*mirror)->Write(lines.Line(i)).ok()) return 3;
  }
  // Close() returns once every line is acknowledged.
  if (!(*mirror)->Close(absl::Minutes(5)).ok()) return 4;
  if (FLAGS_verbose) {
    const LineHostMirror::Stats stats = (*mirror)->stats();
    std::cerr << absl::StrFormat(
        "client %d: %d batches, %.0f records per batch\n", c,
        stats.batches_sent,
        static_cast<double>(stats.records_acknowledged) /
            std::max<uint64_t>(stats.batches_sent, 1));
  }
  return 0;
}

double MeasureHost() {
  std::unique_ptr<LineHostBuffer> buffer;
  const double seconds = RunClients(
      [&] {
        LineHostBufferOptions options;
        options.maxlen = FLAGS_maxlen;
        options.log = [](absl::string_view m) { std::cerr << m << "\n"; };
        auto started = LineHostBuffer::Start(std::move(options));
        if (!started.ok()) {
          std::cerr << started.status() << "\n";
          std::exit(1);
        }
        buffer = std::move(*started);
        return buffer->address();
      },
      RunMirrorClient, [] {});
  const uint64_t expected =
      static_cast<uint64_t>(FLAGS_clients) * FLAGS_lines;
  if (buffer->stats().records_stored != expected) {
    std::cerr << "collector stored " << buffer->stats().records_stored
              << " of " << expected << " lines\n";
    std::exit(1);
  }
  return expected / seconds;
}

// A server that accepts the clients, receives frames and hands each to
// `parse` (which returns the records it held), with no store and no acks.
template <typename Message>
class RawServer {
 public:
  explicit RawServer(std::function<size_t(Message&)> parse)
      : parse_(std::move(parse)) {}

  net::Address Start() {
    net::ConnectionOptions options;
    options.service = "bench";
    net::Address listen;
    listen.host = "127.0.0.1";
    auto listener = net::Listener::Listen(listen, options);
    if (!listener.ok()) std::exit(1);
    listener_ = std::move(*listener);
    acceptor_ = std::thread([this] {
      for (int c = 0; c < FLAGS_clients; ++c) {
        auto connection = listener_->Accept(absl::Seconds(30));
        if (!connection.ok()) std::exit(1);
        servers_.emplace_back([this, conn = std::move(*connection)] {
          Message message;
          uint64_t records = 0;
          while (conn->ReceiveMerging(&message, absl::Seconds(60)).ok()) {
            records += parse_(message);
          }
          received_ += records;
        });
      }
    });
    return listener_->address();
  }

  // Returns once every client's stream has ended.
  void Wait() {
    acceptor_.join();
    for (auto& t : servers_) t.join();
    const uint64_t expected =
        static_cast<uint64_t>(FLAGS_clients) * FLAGS_lines;
    if (received_.load() != expected) {
      std::cerr << "raw server received " << received_.load() << " of "
                << expected << "\n";
      std::exit(1);
    }
  }

 private:
  std::function<size_t(Message&)> parse_;
  std::unique_ptr<net::Listener> listener_;
  std::thread acceptor_;
  std::vector<std::thread> servers_;
  std::atomic<uint64_t> received_{0};
};

net::ConnectionOptions RawClientOptions() {
  net::ConnectionOptions options;
  options.service = "bench";
  return options;
}

// A raw client: connects to `address`, turns client c's lines into records
// (sender, sequence, the coarse timestamp, text), adds each to `message`
// with `add`, and sends `message` every --batch records and at the end,
// emptying it with `clear` after each send. Returns the client's exit code.
template <typename Message, typename Add, typename Clear>
int RunRawClient(int c, const net::Address& address, Message& message, Add add,
                 Clear clear) {
  auto connection =
      net::Connection::Connect(address, RawClientOptions(), absl::Seconds(10));
  if (!connection.ok()) return 2;
  Record record;
  record.sender = absl::StrCat("client", c);
  LineMaker lines(c);
  int in_message = 0;
  for (int64_t i = 0; i < FLAGS_lines; ++i) {
    const std::string& line = lines.Line(i);
    record.text.assign(line.data(), line.size() - 1);
    record.sequence = i;
    record.timestamp = CoarseNow();
    add(record);
    if (++in_message == FLAGS_batch || i + 1 == FLAGS_lines) {
      if (!(*connection)->Send(message, absl::Seconds(60)).ok()) return 3;
      clear();
      in_message = 0;
    }
  }
  return (*connection)->Flush(absl::Seconds(60)).ok() ? 0 : 4;
}

// The same lines as records (sender, sequence, the coarse timestamp, text)
// in the host protocol's batch encoding: the frames a mirror sends, without
// the LineWriter, the send queue, acknowledgements, duplicate detection or
// the store. The server validates and decodes every record (DecodeBatch,
// as the collector).
double MeasureRawEncoded() {
  // Each connection's thread decodes into its own records, reused batch
  // after batch (as the collector does): one-pass DecodeBatch, the fastest
  // decoder of the encoding.
  RawServer<proto::HostRequest> server([](proto::HostRequest& request) {
    thread_local std::vector<Record> records;
    auto count =
        host::internal::DecodeBatch(request.batch().records(), &records);
    if (!count.ok()) std::exit(1);
    host::internal::ClearForReuse(&request);
    return *count;
  });
  const double seconds = RunClients(
      [&] { return server.Start(); },
      [&](int c, const net::Address& address) {
        proto::HostRequest request;
        host::internal::BatchEncoder encoder;
        encoder.Reset(request.mutable_batch()->mutable_records());
        return RunRawClient(
            c, address, request, [&](const Record& r) { encoder.Add(r); },
            [&] { encoder.Reset(request.mutable_batch()->mutable_records()); });
      },
      [&] { server.Wait(); });
  return static_cast<double>(FLAGS_clients) * FLAGS_lines / seconds;
}

// The same records as protobuf RecordBatch messages (the wire form before
// the batch encoding; this benchmark's baseline until then).
double MeasureRawProtobuf() {
  RawServer<proto::RecordBatch> server([](proto::RecordBatch& batch) {
    const size_t n = batch.records_size();
    batch.mutable_records()->Clear();  // keeps the messages for reuse
    return n;
  });
  const double seconds = RunClients(
      [&] { return server.Start(); },
      [&](int c, const net::Address& address) {
        proto::RecordBatch batch;
        return RunRawClient(
            c, address, batch,
            [&](const Record& r) { ToProto(r, batch.add_records()); },
            [&] { batch.mutable_records()->Clear(); });
      },
      [&] { server.Wait(); });
  return static_cast<double>(FLAGS_clients) * FLAGS_lines / seconds;
}

// --- JetStream ---------------------------------------------------------

// The nats-server of the JetStream runs (started at the first, killed at
// exit). The clients use the C client only in their own processes: this
// process never does (a child forked from a process whose C client runs
// threads would inherit none of them), so stream set-up runs in a helper
// child (InChild).
std::vector<std::unique_ptr<nats::testing::NatsServer>> jetstream_servers;

int InChild(const std::function<int()>& body) {
  auto child = ChildProcess::Fork(body);
  if (!child.ok()) return 1;
  auto status = child->Wait(absl::Minutes(2));
  return status.ok() && status->success() ? 0 : 1;
}

// Starts the server if needed, (re)creates `stream` (file storage, one
// replica) and returns its address.
net::Address JetStreamFor(const std::string& stream) {
  if (jetstream_servers.empty()) {
    const std::string dir =
        nats::testing::ServerDirectory("host-bench-nats");
    absl::Status started;
    if (FLAGS_jetstream_replicas > 1) {
      auto cluster =
          nats::testing::StartCluster(dir, FLAGS_jetstream_replicas);
      if (cluster.ok()) jetstream_servers = std::move(*cluster);
      started = cluster.status();
    } else {
      nats::testing::NatsServerOptions options;
      options.directory = dir;
      auto server = nats::testing::NatsServer::Start(options);
      if (server.ok()) jetstream_servers.push_back(std::move(*server));
      started = server.status();
    }
    if (!started.ok()) {
      std::cerr << started << "\n";
      std::exit(1);
    }
  }
  net::Address address;
  address.family = net::Address::Family::kJetStream;
  address.jetstream = nats::testing::AddressOf(jetstream_servers, stream);
  if (InChild([&] {
        nats::DeleteJetStreamStream(address.jetstream, {}).IgnoreError();
        nats::JetStreamStreamSettings settings;
        settings.max_lines = 10000000;
        settings.replicas = FLAGS_jetstream_replicas;
        absl::Status created = nats::testing::CreateStreamWhenReady(
            address.jetstream, settings, {}, absl::Seconds(60));
        if (!created.ok()) std::cerr << created << "\n";
        return created.ok() ? 0 : 1;
      }) != 0) {
    std::exit(1);
  }
  return address;
}

// Exits unless the stream holds `batches` messages.
void CheckBatches(const net::Address& address, uint64_t batches) {
  if (InChild([&] {
        auto info = nats::GetJetStreamStreamInfo(address.jetstream, {});
        if (!info.ok() || info->messages != batches) {
          std::cerr << address.ToString() << ": "
                    << (info.ok() ? absl::StrCat(info->messages, " batches, ",
                                                 batches, " expected")
                                  : info.status().ToString())
                    << "\n";
          return 1;
        }
        return 0;
      }) != 0) {
    std::exit(1);
  }
}

double MeasureJetStreamMirrors() {
  net::Address address;
  const double seconds = RunClients(
      [&] { return address = JetStreamFor("BENCH_MIRRORS"); },
      RunMirrorClient,
      [] {});
  return static_cast<double>(FLAGS_clients) * FLAGS_lines / seconds;
}

// The raw publisher: client c's lines as records in the batch encoding,
// --batch records per message on the client's subject with a message id,
// published asynchronously (up to 32 unacknowledged) and all acknowledged
// at the end.
int RunRawJetStreamClient(int c, const net::Address& address) {
  auto client = nats::internal::Client::Connect(
      address.jetstream, {}, absl::Seconds(10), "bench raw publisher");
  if (!client.ok()) return 2;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = 32;
  options.PublishAsync.StallWait = 60000;  // wait for room, do not fail
  jsCtx* js = nullptr;
  if (natsConnection_JetStream(&js, (*client)->connection(), &options) !=
      NATS_OK) {
    return 2;
  }
  const std::string subject =
      address.jetstream.SenderSubject(absl::StrCat("client", c));
  const std::string mirror = absl::StrFormat("%032x", c + 1);
  std::string bytes;
  host::internal::BatchEncoder encoder;
  encoder.Reset(&bytes);
  Record record;
  record.sender = absl::StrCat("client", c);
  LineMaker lines(c);
  uint64_t batch = 0;
  int in_batch = 0;
  int result = 0;
  for (int64_t i = 0; i < FLAGS_lines && result == 0; ++i) {
    const std::string& line = lines.Line(i);
    record.text.assign(line.data(), line.size() - 1);
    record.sequence = i;
    record.timestamp = CoarseNow();
    encoder.Add(record);
    if (++in_batch == FLAGS_batch || i + 1 == FLAGS_lines) {
      const std::string id = absl::StrCat(mirror, "-", ++batch);
      jsPubOptions publish;
      jsPubOptions_Init(&publish);
      publish.MsgId = id.c_str();
      if (js_PublishAsync(js, subject.c_str(), bytes.data(),
                          static_cast<int>(bytes.size()),
                          &publish) != NATS_OK) {
        result = 3;
      }
      encoder.Reset(&bytes);
      in_batch = 0;
    }
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 300000;
  if (result == 0 && js_PublishAsyncComplete(js, &wait) != NATS_OK) result = 4;
  jsCtx_Destroy(js);
  return result;
}

double MeasureJetStreamRaw() {
  net::Address address;
  const double seconds = RunClients(
      [&] { return address = JetStreamFor("BENCH_RAW"); },
      RunRawJetStreamClient, [] {});
  const uint64_t batches_per_client =
      (static_cast<uint64_t>(FLAGS_lines) + FLAGS_batch - 1) / FLAGS_batch;
  CheckBatches(address, batches_per_client * FLAGS_clients);
  return static_cast<double>(FLAGS_clients) * FLAGS_lines / seconds;
}

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  syncstream::tools::ParseFlagsOrShowHelp(
      "host: lines/s from client processes to one LineHostBuffer collector over loopback TCP with acknowledgements, beside same-run baselines of raw encoded batches (the practical limit) and raw protobuf frames over the same kind of socket; with CPU ns per line of clients and server.\n\nusage: host [flags]",
      &argc, &argv);
  const std::string& mode = FLAGS_mode;
  if (mode != "all" && mode != "raw" && mode != "protobuf" && mode != "host" &&
      mode != "jetstream") {
    std::cerr << "--mode must be all, raw, protobuf, host or jetstream\n";
    return 2;
  }
  std::cout << absl::StrFormat(
      "host buffer, %d client processes x %d lines of %d bytes, loopback "
      "TCP\n  (CPU: ns per line in the client processes / in the server)\n",
      FLAGS_clients, FLAGS_lines, FLAGS_line_bytes);
  auto report = [](const char* what, double lines_per_second) {
    std::cout << absl::StrFormat("  %-44s %6.2f M lines/s   CPU %4.0f / %4.0f\n",
                                 what, lines_per_second / 1e6,
                                 syncstream::last_cpu.clients_ns,
                                 syncstream::last_cpu.server_ns);
  };
  double raw = 0, host = 0;
  if (mode == "all" || mode == "protobuf") {
    report("raw protobuf RecordBatch frames (old wire):",
           syncstream::MeasureRawProtobuf());
  }
  if (mode == "all" || mode == "raw") {
    raw = syncstream::MeasureRawEncoded();
    report("raw encoded batches (baseline):", raw);
  }
  if (mode == "all" || mode == "host") {
    host = syncstream::MeasureHost();
    report("LineHostMirror -> LineHostBuffer, acked:", host);
  }
  if (raw > 0 && host > 0) {
    std::cout << absl::StrFormat("  host / baseline: %.0f%%\n",
                                 100.0 * host / raw);
  }
  if (mode == "all" || mode == "jetstream") {
    const double js_raw = syncstream::MeasureJetStreamRaw();
    const std::string where =
        FLAGS_jetstream_replicas > 1
            ? absl::StrCat("JetStream R", FLAGS_jetstream_replicas)
            : std::string("JetStream (file)");
    report(absl::StrCat("raw cnats -> ", where, ", acked:").c_str(), js_raw);
    const double js = syncstream::MeasureJetStreamMirrors();
    report(absl::StrCat("LineHostMirror -> ", where, ", acked:").c_str(), js);
    std::cout << absl::StrFormat(
        "  JetStream mirrors / raw cnats: %.0f%%   (server CPU: nats-server's, "
        "not counted)\n",
        100.0 * js / js_raw);
  }
  return 0;
}
