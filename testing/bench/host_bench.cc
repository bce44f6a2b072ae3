// //testing/bench:host — lines per second from client processes to one
// LineHostBuffer collector over loopback TCP, with acknowledgements on,
// beside a same-run baseline: the same lines as raw framed RecordBatch
// messages over the same kind of socket to a server that only receives and
// parses them (no store, no acks): the practical limit of the transport.
//
//   ./bazelw run -c opt //testing/bench:host -- [--clients 4] [--lines 2000000]
#include <gflags/gflags.h>
#include <unistd.h>

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
#include "syncstream/host/line_host_buffer.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/net/connection.h"
#include "syncstream/net/listener.h"
#include "syncstream/proto/record.pb.h"
#include "syncstream/core/deadline.h"

DEFINE_int32(clients, 4, "client processes");
DEFINE_int64(lines, 2000000, "lines per client");
DEFINE_int32(line_bytes, 40, "bytes per line, without the line break");
DEFINE_int32(batch, 4096, "records per batch (both sides)");

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

// Children wait on a pipe so that every client starts at the same time.
struct StartGate {
  UniqueFd read_end, write_end;
  StartGate() {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
  }
  void Wait() {
    char c;
    if (::read(read_end.get(), &c, 1) != 1) _exit(9);
  }
  void Open(int clients) {
    std::string bytes(clients, 'g');
    if (::write(write_end.get(), bytes.data(), bytes.size()) != clients) {
      std::abort();
    }
  }
};

double RunClients(const std::function<int(int)>& client) {
  StartGate gate;
  std::vector<ChildProcess> children;
  for (int c = 0; c < FLAGS_clients; ++c) {
    auto child = ChildProcess::Fork([&, c] {
      gate.Wait();
      return client(c);
    });
    if (!child.ok()) {
      std::cerr << child.status() << "\n";
      std::exit(1);
    }
    children.push_back(std::move(*child));
  }
  absl::SleepFor(absl::Milliseconds(300));  // let the children connect
  const absl::Time start = ::syncstream::Now();
  gate.Open(FLAGS_clients);
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
  return absl::ToDoubleSeconds(::syncstream::Now() - start);
}

double MeasureHost() {
  LineHostBufferOptions options;
  options.maxlen = 1 << 20;
  options.log = [](absl::string_view m) { std::cerr << m << "\n"; };
  auto buffer = LineHostBuffer::Start(std::move(options));
  if (!buffer.ok()) {
    std::cerr << buffer.status() << "\n";
    std::exit(1);
  }
  const net::Address address = (*buffer)->address();
  double seconds = RunClients([&](int c) {
    LineHostMirrorOptions mirror_options;
    mirror_options.collector = address;
    mirror_options.writer.name = absl::StrCat("client", c);
    mirror_options.batch_max_records = FLAGS_batch;
    auto mirror = LineHostMirror::Create(mirror_options);
    if (!mirror.ok()) return 2;
    LineMaker lines(c);
    for (int64_t i = 0; i < FLAGS_lines; ++i) {
      if (!(*mirror)->Write(lines.Line(i)).ok()) return 3;
    }
    // Close() returns once the collector acknowledged every line.
    return (*mirror)->Close(absl::Minutes(5)).ok() ? 0 : 4;
  });
  const uint64_t expected =
      static_cast<uint64_t>(FLAGS_clients) * FLAGS_lines;
  if ((*buffer)->stats().records_stored != expected) {
    std::cerr << "collector stored " << (*buffer)->stats().records_stored
              << " of " << expected << " lines\n";
    std::exit(1);
  }
  return expected / seconds;
}

double MeasureRawBatches() {
  net::ConnectionOptions options;
  options.service = "bench";
  net::Address listen;
  listen.host = "127.0.0.1";
  auto listener = net::Listener::Listen(listen, options);
  if (!listener.ok()) std::exit(1);
  std::atomic<uint64_t> received{0};
  std::vector<std::thread> servers;
  std::thread acceptor([&] {
    for (int c = 0; c < FLAGS_clients; ++c) {
      auto connection = (*listener)->Accept(absl::Seconds(30));
      if (!connection.ok()) std::exit(1);
      servers.emplace_back([&, conn = std::move(*connection)] {
        proto::RecordBatch batch;
        while (conn->Receive(&batch, absl::Seconds(60)).ok()) {
          received += batch.records_size();
        }
      });
    }
  });
  const net::Address address = (*listener)->address();
  double seconds = RunClients([&](int c) {
    auto connection = net::Connection::Connect(address, options,
                                               absl::Seconds(10));
    if (!connection.ok()) return 2;
    proto::RecordBatch batch;
    Record record;
    record.sender = absl::StrCat("client", c);
    LineMaker lines(c);
    for (int64_t i = 0; i < FLAGS_lines; ++i) {
      const std::string& line = lines.Line(i);
      record.text.assign(line.data(), line.size() - 1);
      record.sequence = i;
      record.timestamp = ::syncstream::Now();
      ToProto(record, batch.add_records());
      if (batch.records_size() == FLAGS_batch || i + 1 == FLAGS_lines) {
        if (!(*connection)->Send(batch, absl::Seconds(60)).ok()) return 3;
        batch.mutable_records()->Clear();
      }
    }
    return (*connection)->Flush(absl::Seconds(60)).ok() ? 0 : 4;
  });
  acceptor.join();
  for (auto& t : servers) t.join();
  const uint64_t expected =
      static_cast<uint64_t>(FLAGS_clients) * FLAGS_lines;
  if (received.load() != expected) {
    std::cerr << "raw server received " << received.load() << " of "
              << expected << "\n";
    std::exit(1);
  }
  return expected / seconds;
}

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  const double raw = syncstream::MeasureRawBatches();
  const double host = syncstream::MeasureHost();
  std::cout << absl::StrFormat(
      "host buffer, %d client processes x %d lines of %d bytes, loopback TCP\n"
      "  raw framed batches (baseline): %8.2f M lines/s\n"
      "  LineHostMirror -> LineHostBuffer, acked: %8.2f M lines/s  (%.0f%% of "
      "raw)\n",
      FLAGS_clients, FLAGS_lines, FLAGS_line_bytes, raw / 1e6, host / 1e6,
      100.0 * host / raw);
  return 0;
}
