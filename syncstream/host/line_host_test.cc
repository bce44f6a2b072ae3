// LineHostBuffer + LineHostMirror + LineHostReader in one process over
// loopback: sync-stream's host tests ported, and what the Python version got
// wrong (glued partial lines, anyone can clear, lost lines).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "syncstream/core/child_process.h"
#include "syncstream/file/segment_format.h"
#include "syncstream/host/internal/store_log.h"
#include "syncstream/host/line_host_buffer.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/host/testing/host_fixture.h"
#include "syncstream/net/connection.h"
#include "syncstream/net/listener.h"
#include "syncstream/proto/host.pb.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::CapturedLog;
using testing::MirrorOptions;
using testing::Texts;
using testing::WaitFor;

constexpr absl::Duration kTimeout = absl::Seconds(30);

std::unique_ptr<LineHostBuffer> StartCollector(
    size_t maxlen, CapturedLog* log = nullptr, net::AuthKey key = {},
    std::string store_dir = "", net::Address listen = {}) {
  LineHostBufferOptions options;
  options.maxlen = maxlen;
  options.key = std::move(key);
  options.store_dir = std::move(store_dir);
  if (!listen.host.empty()) options.listen = listen;
  if (log != nullptr) options.log = log->Sink();
  absl::StatusOr<std::unique_ptr<LineHostBuffer>> buffer =
      LineHostBuffer::Start(std::move(options));
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  return buffer.ok() ? std::move(*buffer) : nullptr;
}

std::unique_ptr<LineHostMirror> MustMirror(LineHostMirrorOptions options) {
  absl::StatusOr<std::unique_ptr<LineHostMirror>> mirror =
      LineHostMirror::Create(std::move(options));
  EXPECT_TRUE(mirror.ok()) << mirror.status();
  return mirror.ok() ? std::move(*mirror) : nullptr;
}

std::unique_ptr<LineHostReader> MustReader(const net::Address& address,
                                           const net::AuthKey& key = {}) {
  auto reader = LineHostReader::Connect(address, key, kTimeout);
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? std::move(*reader) : nullptr;
}

net::AuthKey Key(const std::string& text) {
  return *net::AuthKey::FromBytes(text);
}

TEST(LineHostTest, ReadKeepsOrderAndReadNTakesTheLast) {
  auto buffer = StartCollector(10);
  auto mirror = MustMirror(MirrorOptions(buffer->address(), "m"));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(mirror->Write(absl::StrCat("line ", i, "\n")).ok());
  }
  ASSERT_TRUE(mirror->Sync(kTimeout).ok());
  std::vector<std::string> expected;
  for (int i = 10; i < 20; ++i) expected.push_back(absl::StrCat("line ", i));
  EXPECT_THAT(Texts(buffer->Read()), ElementsAreArray(expected));
  EXPECT_THAT(Texts(buffer->Read(3)),
              ElementsAre("line 17", "line 18", "line 19"));
  EXPECT_EQ(buffer->Size(), 10u);

  auto reader = MustReader(buffer->address());
  auto all = reader->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Texts(*all), ElementsAreArray(expected));
  auto last = reader->Read(2);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_THAT(Texts(*last), ElementsAre("line 18", "line 19"));
  auto info = reader->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 10u);
  EXPECT_EQ(info->maxlen, 10u);
  EXPECT_FALSE(info->stopped);
  EXPECT_EQ(*reader->Size(), 10u);
}

TEST(LineHostTest, MultiPrintBuildsWholeLines) {
  auto buffer = StartCollector(100);
  auto mirror = MustMirror(MirrorOptions(buffer->address(), "m"));
  // print('a', 1, 'b', end='') ... print(): pieces of one line.
  for (int i = 0; i < 5; ++i) {
    mirror->stream() << "item " << i << ",";
    mirror->stream() << " x=" << i * 2;
    mirror->stream() << "\n";
  }
  mirror->stream() << "two\nlines\n" << "tail without newline";
  ASSERT_TRUE(mirror->Close(kTimeout).ok());
  EXPECT_THAT(Texts(buffer->Read()),
              ElementsAre("item 0, x=0", "item 1, x=2", "item 2, x=4",
                          "item 3, x=6", "item 4, x=8", "two", "lines",
                          "tail without newline"));
}

TEST(LineHostTest, FourThreadsEachWithAMirror) {
  constexpr int kLines = 2000;
  auto buffer = StartCollector(4 * kLines);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto mirror = MustMirror(
          MirrorOptions(buffer->address(), absl::StrCat("thread", t)));
      for (int i = 0; i < kLines; ++i) {
        ASSERT_TRUE(mirror->Write(absl::StrCat("t", t, " ", i, "\n")).ok());
      }
      ASSERT_TRUE(mirror->Close(kTimeout).ok());
    });
  }
  for (auto& t : threads) t.join();
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), 4u * kLines);
  std::map<std::string, int> next;
  for (const Record& r : records) {
    int& expected = next[r.sender];
    EXPECT_EQ(r.text, absl::StrCat("t", r.sender.substr(6), " ", expected));
    ++expected;
  }
  EXPECT_EQ(next.size(), 4u);
  for (const auto& [sender, count] : next) EXPECT_EQ(count, kLines) << sender;
}

// The body of one exec'd client process (see main()): 10 lines, a warning
// and an error through its own mirror.
int RunClientProcess(const std::string& address, const std::string& index) {
  auto mirror = LineHostMirror::Create(
      MirrorOptions(*net::ParseAddress(address), "proc" + index));
  if (!mirror.ok()) return 3;
  for (int i = 0; i < 10; ++i) {
    (*mirror)->stream() << "p" << index << " " << i << "\n";
  }
  (*mirror)->SendWarning("warning from " + index).IgnoreError();
  try {
    throw std::runtime_error("failure in " + index);
  } catch (const std::exception& e) {
    (*mirror)->SendError(e).IgnoreError();
  }
  return (*mirror)->Close(absl::Seconds(30)).ok() ? 0 : 4;
}

TEST(LineHostTest, FourProcessesWithWarningAndError) {
  auto buffer = StartCollector(1000);
  std::vector<ChildProcess> children;
  for (int p = 0; p < 4; ++p) {
    // Re-exec this test binary as a client (a fresh process: no threads
    // inherited from the collector's, which fork would not carry).
    SpawnOptions options;
    options.argv = {"/proc/self/exe"};
    options.env = {{"SYNCSTREAM_HOST_TEST_CLIENT",
                    absl::StrCat(buffer->address().ToString(), ",", p)}};
    auto child = ChildProcess::Spawn(options);
    ASSERT_TRUE(child.ok()) << child.status();
    children.push_back(std::move(*child));
  }
  for (ChildProcess& child : children) {
    auto status = child.Wait(absl::Seconds(60));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(status->success()) << status->ToString();
  }
  std::vector<Record> records = buffer->Read();
  int lines = 0, warnings = 0, errors = 0;
  for (const Record& r : records) {
    if (r.is_line()) ++lines;
    if (r.is_warning()) {
      ++warnings;
      EXPECT_THAT(r.text, HasSubstr("warning from"));
    }
    if (r.is_error()) {
      ++errors;
      EXPECT_THAT(r.text, HasSubstr("std::runtime_error: failure in"));
      EXPECT_FALSE(r.trace.empty());
    }
  }
  EXPECT_EQ(lines, 40);
  EXPECT_EQ(warnings, 4);
  EXPECT_EQ(errors, 4);
}

TEST(LineHostTest, ClearRounds) {
  auto buffer = StartCollector(50);
  auto mirror = MustMirror(MirrorOptions(buffer->address(), "m"));
  auto reader = MustReader(buffer->address());
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 10 + round; ++i) {
      ASSERT_TRUE(mirror->Write(absl::StrCat(round, ":", i, "\n")).ok());
    }
    ASSERT_TRUE(mirror->Sync(kTimeout).ok());
    auto records = reader->ReadAll();
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), static_cast<size_t>(10 + round));
    EXPECT_EQ(records->front().text, absl::StrCat(round, ":0"));
    ASSERT_TRUE(reader->Clear().ok());
    EXPECT_EQ(*reader->Size(), 0u);
  }
}

TEST(LineHostTest, StopAllMirrorsSurfacesOnTheNextWriteAndResetReopens) {
  auto buffer = StartCollector(50);
  auto mirror = MustMirror(MirrorOptions(buffer->address(), "m"));
  ASSERT_TRUE(mirror->Write("before\n").ok());
  ASSERT_TRUE(mirror->Sync(kTimeout).ok());
  auto reader = MustReader(buffer->address());
  ASSERT_TRUE(reader->StopAllMirrors().ok());
  EXPECT_TRUE(reader->Info()->stopped);
  ASSERT_TRUE(WaitFor([&] { return !mirror->status().ok(); }));
  absl::Status write = mirror->Write("after\n");
  EXPECT_EQ(write.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(write.message(), HasSubstr("stopped all mirrors"));
  // A new mirror is refused too.
  auto late = LineHostMirror::Create(MirrorOptions(buffer->address(), "late"));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("before"));

  ASSERT_TRUE(reader->ResetStates().ok());
  EXPECT_FALSE(buffer->stopped());
  EXPECT_EQ(buffer->Size(), 0u);
  auto fresh = MustMirror(MirrorOptions(buffer->address(), "fresh"));
  ASSERT_TRUE(fresh->Write("again\n").ok());
  ASSERT_TRUE(fresh->Sync(kTimeout).ok());
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("again"));
}

TEST(LineHostTest, PartialLinesOfTwoClientsAreNeverGlued) {
  auto buffer = StartCollector(100);
  auto a = MustMirror(MirrorOptions(buffer->address(), "a"));
  auto b = MustMirror(MirrorOptions(buffer->address(), "b"));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(a->Write(absl::StrCat("a", i, "-")).ok());
    ASSERT_TRUE(a->Sync(kTimeout).ok());
    ASSERT_TRUE(b->Write(absl::StrCat("b", i, "-")).ok());
    ASSERT_TRUE(b->Sync(kTimeout).ok());
    ASSERT_TRUE(a->Write(absl::StrCat("end", i, "\n")).ok());
    ASSERT_TRUE(a->Sync(kTimeout).ok());
    ASSERT_TRUE(b->Write(absl::StrCat("end", i, "\n")).ok());
    ASSERT_TRUE(b->Sync(kTimeout).ok());
  }
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), 20u);
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    EXPECT_EQ(r.text, absl::StrCat(r.sender, i / 2, "-end", i / 2));
  }
}

TEST(LineHostTest, FollowGetsTheLastNThenNewRecords) {
  auto buffer = StartCollector(100);
  auto mirror = MustMirror(MirrorOptions(buffer->address(), "m"));
  for (int i = 0; i < 5; ++i) mirror->stream() << "old " << i << "\n";
  ASSERT_TRUE(mirror->Sync(kTimeout).ok());
  auto reader = MustReader(buffer->address());
  auto follower = reader->Follow(2);
  ASSERT_TRUE(follower.ok()) << follower.status();
  std::vector<std::string> seen;
  auto collect_until = [&](size_t n) {
    const absl::Time deadline = ::syncstream::Now() + kTimeout;
    while (seen.size() < n && ::syncstream::Now() < deadline) {
      auto more = (*follower)->Next(absl::Milliseconds(200));
      if (more.ok()) {
        for (const Record& r : *more) seen.push_back(r.text);
      } else {
        ASSERT_EQ(more.status().code(), absl::StatusCode::kDeadlineExceeded)
            << more.status();
      }
    }
  };
  collect_until(2);
  EXPECT_THAT(seen, ElementsAre("old 3", "old 4"));
  for (int i = 0; i < 3; ++i) mirror->stream() << "new " << i << "\n";
  collect_until(5);
  EXPECT_THAT(seen, ElementsAre("old 3", "old 4", "new 0", "new 1", "new 2"));
}

TEST(LineHostTest, WrongKeyAndNoKeyAreRefusedOnBothSides) {
  CapturedLog log;
  auto buffer = StartCollector(10, &log, Key("collector-key-0123456789"));
  auto wrong = LineHostMirror::Create(MirrorOptions(
      buffer->address(), "m", Key("some-other-key-0123456789")));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(wrong.status().message(),
              HasSubstr("authentication failed: peer did not prove knowledge "
                        "of the key"));
  auto none = LineHostMirror::Create(MirrorOptions(buffer->address(), "m"));
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("requires a key"));
  auto reader = LineHostReader::Connect(buffer->address(), {}, kTimeout);
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(WaitFor([&] {
    return log.Contains(
        "authentication failed: peer did not prove knowledge of the key");
  })) << log.All();
  // The right key works, and no one without it cleared anything.
  auto right = MustMirror(MirrorOptions(buffer->address(), "m",
                                        Key("collector-key-0123456789")));
  ASSERT_TRUE(right->Write("kept\n").ok());
  ASSERT_TRUE(right->Sync(kTimeout).ok());
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("kept"));
}

// A hand-made mirror connection to `address` that has sent its hello with
// `mirror_id` and, unless negative, `batch_encoding` (the reply is the
// caller's to read).
absl::StatusOr<std::unique_ptr<net::Connection>> SendMirrorHello(
    const net::Address& address, const std::string& mirror_id,
    int batch_encoding) {
  net::ConnectionOptions options;
  options.service = "host";
  SYNCSTREAM_ASSIGN_OR_RETURN(
      std::unique_ptr<net::Connection> connection,
      net::Connection::Connect(address, options, kTimeout));
  proto::HostRequest request;
  request.mutable_mirror_hello()->set_mirror_id(mirror_id);
  if (batch_encoding >= 0) {
    request.mutable_mirror_hello()->set_batch_encoding(batch_encoding);
  }
  SYNCSTREAM_RETURN_IF_ERROR(connection->SendNow(request, kTimeout));
  return connection;
}

UniqueFd RawConnect(const net::Address& address) {
  auto targets = net::Resolve(address);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(),
                      reinterpret_cast<const sockaddr*>(&targets->front().storage),
                      targets->front().length),
            0);
  return fd;
}

TEST(LineHostTest, GarbageAndOversizedFramesCloseOnlyThatConnection) {
  CapturedLog log;
  LineHostBufferOptions options;
  options.maxlen = 10;
  options.max_frame_bytes = 64 * 1024;
  options.log = log.Sink();
  auto started = LineHostBuffer::Start(std::move(options));
  ASSERT_TRUE(started.ok()) << started.status();
  auto& buffer = *started;
  auto mirror = MustMirror(MirrorOptions(buffer->address(), "m"));
  {
    UniqueFd raw = RawConnect(buffer->address());
    const std::string junk(32, '\xfe');
    ASSERT_EQ(::send(raw.get(), junk.data(), junk.size(), MSG_NOSIGNAL), 32);
    char c;
    EXPECT_EQ(::recv(raw.get(), &c, 1, 0), 0);  // closed by the collector
  }
  {
    // A real client that sends a frame over the collector's limit.
    auto c = SendMirrorHello(buffer->address(), std::string(16, 'x'), 1);
    ASSERT_TRUE(c.ok()) << c.status();
    proto::HostRequest request;
    proto::HostReply welcome;
    ASSERT_TRUE((*c)->Receive(&welcome, kTimeout).ok());
    request.mutable_batch()->set_sequence(1);
    request.mutable_batch()->set_records(std::string(200 * 1024, 'y'));
    ASSERT_TRUE((*c)->SendNow(request, kTimeout).ok());
    proto::HostReply reply;
    EXPECT_FALSE((*c)->Receive(&reply, kTimeout).ok());  // closed
  }
  EXPECT_TRUE(WaitFor([&] {
    return log.Contains("malformed frame") &&
           log.Contains("exceeds the maximum frame size of 65536 bytes");
  })) << log.All();
  // The collector still serves everyone else.
  ASSERT_TRUE(mirror->Write("still here\n").ok());
  ASSERT_TRUE(mirror->Sync(kTimeout).ok());
  EXPECT_THAT(Texts(buffer->Read()), ElementsAre("still here"));
}

TEST(LineHostTest, MirrorsOfAnotherBatchEncodingAreRefusedWithTheReason) {
  CapturedLog log;
  auto buffer = StartCollector(10, &log);
  // No batch_encoding: a mirror that sent protobuf RecordBatch messages.
  auto c = SendMirrorHello(buffer->address(), std::string(16, 'o'), -1);
  ASSERT_TRUE(c.ok()) << c.status();
  proto::HostReply reply;
  ASSERT_TRUE((*c)->Receive(&reply, kTimeout).ok());
  ASSERT_EQ(reply.reply_case(), proto::HostReply::kFailure);
  EXPECT_EQ(reply.failure().code(),
            static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(reply.failure().message(),
              HasSubstr("record batch encoding 0, this collector reads 1"));
  EXPECT_FALSE((*c)->Receive(&reply, kTimeout).ok());  // closed
  EXPECT_TRUE(WaitFor([&] { return log.Contains("encoding 0"); }));
}

TEST(LineHostTest, AMalformedBatchClosesThatConnectionAndStoresNothing) {
  CapturedLog log;
  auto buffer = StartCollector(10, &log);
  auto c = SendMirrorHello(buffer->address(), std::string(16, 'm'), 1);
  ASSERT_TRUE(c.ok()) << c.status();
  proto::HostRequest request;
  proto::HostReply reply;
  ASSERT_TRUE((*c)->Receive(&reply, kTimeout).ok());
  ASSERT_EQ(reply.reply_case(), proto::HostReply::kWelcome);
  // Version 1, two records claimed; one valid line, then a cut one.
  request.mutable_batch()->set_sequence(1);
  request.mutable_batch()->set_records(
      std::string("\x01\x02\x00\x00\x00\x01\x00\x00\x02ok\x01\x00\x00\x09x", 16));
  ASSERT_TRUE((*c)->SendNow(request, kTimeout).ok());
  EXPECT_FALSE((*c)->Receive(&reply, kTimeout).ok());  // closed, no ack
  EXPECT_TRUE(WaitFor([&] {
    return log.Contains("batch 1: record batch: record 1 of 2: bad text");
  })) << log.All();
  EXPECT_EQ(buffer->Size(), 0u);
}

// A collector that welcomes a mirror and then drops the connection (as one
// refusing its batches does) must see the mirror come back ever more slowly:
// a connection that brought no acknowledgement does not reset the backoff.
TEST(LineHostTest, RefusedConnectionsDoNotResetTheMirrorsBackoff) {
  net::ConnectionOptions server_options;
  server_options.service = "host";
  auto listener = net::Listener::Listen(
      *net::ParseAddress("tcp:127.0.0.1:0"), server_options);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::atomic<int> connections{0};
  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop.load()) {
      auto c = (*listener)->Accept(absl::Milliseconds(100));
      if (!c.ok()) continue;
      proto::HostRequest hello;
      if (!(*c)->Receive(&hello, kTimeout).ok()) continue;
      proto::HostReply welcome;
      welcome.mutable_welcome()->set_acked_through(0);
      (*c)->SendNow(welcome, kTimeout).IgnoreError();
      ++connections;
      // Closed here, before any batch is acknowledged.
    }
  });
  auto options = MirrorOptions((*listener)->address(), "refused");
  options.connect_at_create = false;
  options.max_reconnect_backoff = absl::Milliseconds(80);
  auto mirror = LineHostMirror::Create(options);
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  ASSERT_TRUE((*mirror)->Write("never acknowledged\n").ok());
  EXPECT_TRUE(WaitFor([&] {
    return connections.load() >= 6 &&
           (*mirror)->stats().reconnect_backoff == absl::Milliseconds(80);
  })) << connections.load() << " connections, backoff "
      << (*mirror)->stats().reconnect_backoff;
  stop = true;
  server.join();
  (*mirror)->Close(absl::ZeroDuration()).IgnoreError();
}

// stats() and a connection refused at max_connections used to take the
// collector's two locks in opposite orders (ThreadSanitizer reports the
// inversion; it could deadlock). Refusals and stats() run concurrently here.
TEST(LineHostTest, StatsAndRefusalsAtTheConnectionLimitTakeNoLocksInReverse) {
  LineHostBufferOptions options;
  options.maxlen = 10;
  options.max_connections = 1;
  options.log = [](absl::string_view) {};
  auto buffer = LineHostBuffer::Start(std::move(options));
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  const net::Address address = (*buffer)->address();
  auto held = LineHostReader::Connect(address, {}, kTimeout);
  ASSERT_TRUE(held.ok()) << held.status();
  std::atomic<bool> done{false};
  std::thread poller([&] {
    while (!done.load()) (*buffer)->stats();
  });
  net::ConnectionOptions refused;
  refused.service = "host";
  for (int i = 0; i < 5; ++i) {
    // Refused at once: the collector closes it before the handshake.
    net::Connection::Connect(address, refused, kTimeout).IgnoreError();
  }
  EXPECT_TRUE(WaitFor([&] {
    return (*buffer)->stats().connections_refused >= 5;
  }));
  done = true;
  poller.join();
}

// A first frame whose text fields hold invalid UTF-8, from 40 connections of
// one peer: libprotobuf must log nothing (the handshake's fields are bytes),
// and the collector logs at most 10 lines about that peer per 10 s.
TEST(LineHostTest, GarbageHandshakesNeitherMakeProtobufLogNorFloodTheLog) {
  CapturedLog log;
  auto buffer = StartCollector(10, &log);
  const net::Address address = buffer->address();
  // A frame holding a ClientHello whose magic (field 1) is not UTF-8.
  const std::string magic = "\xff\xfe\xfd not utf-8";
  std::string body = std::string(1, '\x0a') + static_cast<char>(magic.size()) +
                     magic;
  const std::string frame = static_cast<char>(body.size()) + body;
  const std::string err_path =
      absl::StrCat(getenv("TEST_TMPDIR"), "/garbage-stderr");
  const int saved_stderr = ::dup(STDERR_FILENO);
  const int err_file =
      ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(err_file, 0);
  ::dup2(err_file, STDERR_FILENO);
  constexpr int kConnections = 40;
  for (int i = 0; i < kConnections; ++i) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(address.port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to),
                        sizeof(to)),
              0);
    ASSERT_EQ(::write(fd.get(), frame.data(), frame.size()),
              static_cast<ssize_t>(frame.size()));
    char c;
    (void)!::read(fd.get(), &c, 1);  // until the collector closes it
  }
  const bool refused = WaitFor([&] {
    return buffer->stats().connections_refused >= kConnections;
  });
  ::dup2(saved_stderr, STDERR_FILENO);
  ::close(saved_stderr);
  ::close(err_file);
  ASSERT_TRUE(refused);
  std::ifstream in(err_path);
  const std::string err((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  EXPECT_EQ(err.find("UTF-8"), std::string::npos) << err;
  const std::string all = log.All();
  size_t lines = 0;
  for (size_t at = all.find("wrong magic"); at != std::string::npos;
       at = all.find("wrong magic", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 10u) << all;
}

// Idle peers that never start the handshake, more than max_connections of
// them, used to shut honest clients out until the handshake timeout; they
// now only compete among themselves for the handshake budget.
TEST(LineHostTest, IdleUnauthenticatedPeersDoNotShutOutHonestClients) {
  LineHostBufferOptions options;
  options.maxlen = 10;
  options.max_connections = 4;
  options.max_handshaking_connections = 3;
  options.handshake_timeout = absl::Minutes(10);
  options.log = [](absl::string_view) {};
  auto buffer = LineHostBuffer::Start(std::move(options));
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  const net::Address address = (*buffer)->address();
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 20; ++i) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(address.port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    idle.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(idle.back().get(), reinterpret_cast<sockaddr*>(&to),
                        sizeof(to)),
              0);
  }
  // Honest clients get in (and stay: up to max_connections of them).
  std::vector<std::unique_ptr<LineHostReader>> readers;
  for (int i = 0; i < 4; ++i) {
    auto reader = LineHostReader::Connect(address, {}, absl::Seconds(20));
    ASSERT_TRUE(reader.ok()) << i << ": " << reader.status();
    ASSERT_TRUE((*reader)->Info(absl::Seconds(20)).ok());
    readers.push_back(std::move(*reader));
  }
  // The fifth authenticated one is over max_connections.
  auto fifth = LineHostReader::Connect(address, {}, absl::Seconds(20));
  EXPECT_TRUE(!fifth.ok() || !(*fifth)->Info(absl::Seconds(20)).ok());
}

TEST(LineHostTest, AStoreOfFormatVersion2IsReadAndRewritten) {
  const std::string store = absl::StrCat(getenv("TEST_TMPDIR"), "/v2store");
  ASSERT_EQ(::mkdir(store.c_str(), 0700), 0);
  std::string bytes = host::internal::StoreLogHeader();
  bytes[8] = 2;
  proto::HostLogEntry entry;
  entry.mutable_batch()->set_mirror_id("old-mirror");
  entry.mutable_batch()->set_sequence(7);
  for (const char* text : {"written", "by version 2"}) {
    proto::Record* record = entry.mutable_batch()->mutable_batch()->add_records();
    record->set_kind(proto::Record::LINE);
    record->set_sender("old");
    record->set_text(text);
  }
  ASSERT_TRUE(file::AppendMessageFrame(entry, &bytes).ok());
  std::ofstream(store + "/host.log", std::ios::binary) << bytes;
  {
    auto buffer = StartCollector(10, nullptr, {}, store);
    ASSERT_NE(buffer, nullptr);
    EXPECT_THAT(Texts(buffer->Read()), ElementsAre("written", "by version 2"));
    auto mirror = MustMirror(MirrorOptions(buffer->address(), "new"));
    ASSERT_TRUE(mirror->Write("and one more\n").ok());
    ASSERT_TRUE(mirror->Close(kTimeout).ok());
  }
  std::ifstream in(store + "/host.log", std::ios::binary);
  std::string header(16, '\0');
  in.read(&header[0], 16);
  EXPECT_EQ(header[8], 3);  // rewritten in the current format
  auto buffer = StartCollector(10, nullptr, {}, store);
  ASSERT_NE(buffer, nullptr);
  EXPECT_THAT(Texts(buffer->Read()),
              ElementsAre("written", "by version 2", "and one more"));
}

TEST(LineHostTest, ManyConcurrentClients) {
  constexpr int kClients = 64;
  constexpr int kLines = 50;
  auto buffer = StartCollector(kClients * kLines);
  std::vector<std::unique_ptr<LineHostMirror>> mirrors;
  for (int c = 0; c < kClients; ++c) {
    mirrors.push_back(
        MustMirror(MirrorOptions(buffer->address(), absl::StrCat("c", c))));
  }
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < kLines; ++i) {
        ASSERT_TRUE(mirrors[c]->Write(absl::StrCat(c, ".", i, "\n")).ok());
      }
      ASSERT_TRUE(mirrors[c]->Close(kTimeout).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(buffer->Size(), static_cast<size_t>(kClients * kLines));
  std::set<std::string> unique;
  for (const Record& r : buffer->Read()) unique.insert(r.text);
  EXPECT_EQ(unique.size(), static_cast<size_t>(kClients * kLines));
}

TEST(LineHostTest, CollectorRestartWithStoreLosesAndDuplicatesNothing) {
  const std::string store = absl::StrCat(getenv("TEST_TMPDIR"), "/restart");
  auto buffer = StartCollector(100000, nullptr, {}, store);
  const net::Address address = buffer->address();
  auto mirror = MustMirror(MirrorOptions(address, "m"));
  constexpr int kLines = 20000;
  std::thread writer([&] {
    for (int i = 0; i < kLines; ++i) {
      ASSERT_TRUE(mirror->Write(absl::StrCat(i, "\n")).ok());
    }
  });
  ASSERT_TRUE(WaitFor([&] { return buffer->Size() >= kLines / 4; }));
  buffer.reset();  // the collector goes away mid-stream
  buffer = StartCollector(100000, nullptr, {}, store, address);
  ASSERT_NE(buffer, nullptr);
  writer.join();
  ASSERT_TRUE(mirror->Close(kTimeout).ok());
  std::vector<Record> records = buffer->Read();
  ASSERT_EQ(records.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) EXPECT_EQ(records[i].text, absl::StrCat(i));
  EXPECT_GE(mirror->stats().reconnects, 1u);
}

TEST(LineHostTest, FullQueueBlocksWithTimeoutOrDropsOldest) {
  auto buffer = StartCollector(1000);
  const net::Address address = buffer->address();
  LineHostMirrorOptions blocking = MirrorOptions(address, "block");
  blocking.batch_max_records = 4;
  blocking.max_queued_records = 8;
  blocking.block_timeout = absl::Milliseconds(50);
  auto blocked = MustMirror(blocking);
  LineHostMirrorOptions dropping = MirrorOptions(address, "drop");
  dropping.batch_max_records = 4;
  dropping.max_queued_records = 8;
  dropping.drop_oldest = true;
  auto dropper = MustMirror(dropping);
  buffer.reset();  // nobody receives now
  absl::Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) {
    status = blocked->Write(absl::StrCat(i, "\n"));
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("send queue full"));
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(dropper->Write(absl::StrCat(i, "\n")).ok());
  }
  uint64_t dropped = dropper->stats().records_dropped;
  EXPECT_GT(dropped, 0u);
  buffer = StartCollector(1000, nullptr, {}, "", address);
  ASSERT_NE(buffer, nullptr);
  ASSERT_TRUE(dropper->Sync(kTimeout).ok());
  int lines = 0;
  bool warned = false;
  for (const Record& r : buffer->Read()) {
    if (r.sender != "drop") continue;
    if (r.is_line()) ++lines;
    if (r.is_warning()) {
      warned = true;
      EXPECT_THAT(r.text, HasSubstr(absl::StrCat("dropped ", dropped,
                                                 " lines")));
    }
  }
  EXPECT_TRUE(warned);
  EXPECT_EQ(lines + dropped, 100u);
}

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  if (const char* client = std::getenv("SYNCSTREAM_HOST_TEST_CLIENT")) {
    std::string spec = client;
    size_t comma = spec.rfind(',');
    return syncstream::RunClientProcess(spec.substr(0, comma),
                                        spec.substr(comma + 1));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
