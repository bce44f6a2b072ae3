#include "syncstream/net/connection.h"

#include <sys/socket.h>

#include <atomic>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "syncstream/net/listener.h"
#include "syncstream/net/testing/test_server.h"
#include "syncstream/proto/net.pb.h"
#include "syncstream/proto/record.pb.h"

namespace syncstream::net {
namespace {

using ::testing::HasSubstr;
using testing::LoopbackAddress;
using testing::ServerThread;
using testing::UniqueUnixAddress;

constexpr absl::Duration kTimeout = absl::Seconds(10);

ConnectionOptions TestOptions() {
  ConnectionOptions options;
  options.service = "test";
  options.handshake_timeout = absl::Seconds(5);
  return options;
}

std::unique_ptr<Listener> MustListen(const Address& address,
                                     ConnectionOptions options = TestOptions()) {
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listener::Listen(address, std::move(options));
  EXPECT_TRUE(listener.ok()) << listener.status();
  return listener.ok() ? std::move(*listener) : nullptr;
}

proto::Record Line(int i) {
  proto::Record r;
  r.set_kind(proto::Record::LINE);
  r.set_sender("client");
  r.set_sequence(i);
  r.set_text(absl::StrCat("line ", i));
  return r;
}

// Echo server: receives `count` records and answers each with the same.
void EchoRecords(Listener& listener, int count) {
  absl::StatusOr<std::unique_ptr<Connection>> c = listener.Accept(kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < count; ++i) {
    proto::Record r;
    absl::Status received = (*c)->Receive(&r, kTimeout);
    ASSERT_TRUE(received.ok()) << received;
    ASSERT_TRUE((*c)->Send(r, kTimeout).ok());
  }
  ASSERT_TRUE((*c)->Flush(kTimeout).ok());
  proto::Record extra;
  EXPECT_EQ((*c)->Receive(&extra, kTimeout).code(),
            absl::StatusCode::kUnavailable);  // the client closed
}

void RoundTrip(const Address& address) {
  constexpr int kCount = 2000;
  ServerThread server(MustListen(address),
                      [](Listener& l) { EchoRecords(l, kCount); });
  {
    absl::StatusOr<std::unique_ptr<Connection>> c =
        Connection::Connect(server.address(), TestOptions(), kTimeout);
    ASSERT_TRUE(c.ok()) << c.status();
    for (int i = 0; i < kCount; ++i) {
      ASSERT_TRUE((*c)->Send(Line(i), kTimeout).ok());
    }
    ASSERT_TRUE((*c)->Flush(kTimeout).ok());
    for (int i = 0; i < kCount; ++i) {
      proto::Record r;
      absl::Status received = (*c)->Receive(&r, kTimeout);
      ASSERT_TRUE(received.ok()) << received;
      EXPECT_EQ(r.sequence(), static_cast<uint64_t>(i));
      EXPECT_EQ(r.text(), absl::StrCat("line ", i));
    }
  }
  server.Join();
}

TEST(ConnectionTest, RoundTripOverTcp) { RoundTrip(LoopbackAddress()); }

TEST(ConnectionTest, RoundTripOverUnixSocket) {
  RoundTrip(UniqueUnixAddress());
}

TEST(ConnectionTest, BlockingReceivesKeepDeadlinesAndWakeOnShutdown) {
  ServerThread server(MustListen(UniqueUnixAddress()), [](Listener& l) {
    absl::StatusOr<std::unique_ptr<Connection>> c = l.Accept(kTimeout);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->EnableBlockingReceives(absl::Milliseconds(50)).ok());
    EXPECT_TRUE((*c)->blocking_receives());
    // Frames arrive through blocking reads; sends stay non-blocking.
    for (int i = 0; i < 100; ++i) {
      proto::Record r;
      absl::Status received = (*c)->Receive(&r, absl::InfiniteDuration());
      ASSERT_TRUE(received.ok()) << received;
      ASSERT_TRUE((*c)->SendNow(r, kTimeout).ok());
    }
    // The client's shutdown ends the stream: the blocked read sees it.
    proto::Record r;
    EXPECT_EQ((*c)->Receive(&r, absl::InfiniteDuration()).code(),
              absl::StatusCode::kUnavailable);
  });
  auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->EnableBlockingReceives(absl::Milliseconds(50)).ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*c)->SendNow(Line(i), kTimeout).ok());
    proto::Record r;
    absl::Status received = (*c)->Receive(&r, kTimeout);
    ASSERT_TRUE(received.ok()) << received;
    EXPECT_EQ(r.sequence(), static_cast<uint64_t>(i));
  }
  // A deadline far beyond the slice, and one shorter than it, both end.
  proto::Record r;
  EXPECT_EQ((*c)->Receive(&r, absl::Milliseconds(130)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*c)->Receive(&r, absl::Milliseconds(10)).code(),
            absl::StatusCode::kDeadlineExceeded);
  // Shutdown wakes a receive blocked without a deadline.
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    (*c)->Shutdown();
  });
  EXPECT_EQ((*c)->Receive(&r, absl::InfiniteDuration()).code(),
            absl::StatusCode::kUnavailable);
  closer.join();
  c->reset();
  server.Join();
}

TEST(ConnectionTest, BareHostPortAndReportedEphemeralPort) {
  std::unique_ptr<Listener> listener = MustListen(*ParseAddress("127.0.0.1:0"));
  ASSERT_NE(listener, nullptr);
  EXPECT_NE(listener->address().port, 0);
  Address bare = *ParseAddress(
      absl::StrCat("127.0.0.1:", listener->address().port));
  ServerThread server(std::move(listener),
                      [](Listener& l) { EchoRecords(l, 1); });
  auto c = Connection::Connect(bare, TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->SendNow(Line(7), kTimeout).ok());
  proto::Record r;
  ASSERT_TRUE((*c)->Receive(&r, kTimeout).ok());
  EXPECT_EQ(r.sequence(), 7u);
}

TEST(ConnectionTest, SendBatchesSmallMessagesUntilFlush) {
  ServerThread server(MustListen(LoopbackAddress()),
                      [](Listener& l) { EchoRecords(l, 100); });
  auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*c)->Send(Line(i), kTimeout).ok());
  EXPECT_GT((*c)->pending_send_bytes(), 100u * 8);  // nothing written yet
  ASSERT_TRUE((*c)->Flush(kTimeout).ok());
  EXPECT_EQ((*c)->pending_send_bytes(), 0u);
  for (int i = 0; i < 100; ++i) {
    proto::Record r;
    ASSERT_TRUE((*c)->Receive(&r, kTimeout).ok());
  }
}

TEST(ConnectionTest, ReceiveTimesOutAndAPartialFrameSurvivesTheTimeout) {
  std::atomic<bool> go{false};
  ServerThread server(MustListen(LoopbackAddress()), [&](Listener& l) {
    auto c = l.Accept(kTimeout);
    ASSERT_TRUE(c.ok()) << c.status();
    std::string wire;
    ASSERT_TRUE(AppendFrame(Line(42), 1 << 20, &wire).ok());
    // Half a frame, written raw, then the rest once the client timed out.
    ASSERT_EQ(::send((*c)->fd(), wire.data(), 3, MSG_NOSIGNAL), 3);
    while (!go.load()) std::this_thread::yield();
    ASSERT_EQ(::send((*c)->fd(), wire.data() + 3, wire.size() - 3,
                     MSG_NOSIGNAL),
              static_cast<ssize_t>(wire.size() - 3));
    proto::Record r;
    (*c)->Receive(&r, kTimeout).IgnoreError();  // until the client closes
  });
  auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  proto::Record r;
  absl::Status timed_out = (*c)->Receive(&r, absl::Milliseconds(50));
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kDeadlineExceeded) << timed_out;
  EXPECT_THAT(timed_out.message(), HasSubstr("receive timed out"));
  EXPECT_EQ((*c)->Receive(&r, absl::ZeroDuration()).code(),
            absl::StatusCode::kDeadlineExceeded);
  go = true;
  absl::Status received = (*c)->Receive(&r, kTimeout);
  ASSERT_TRUE(received.ok()) << received;
  EXPECT_EQ(r.sequence(), 42u);
  c->reset();
}

TEST(ConnectionTest, OversizedIncomingFrameBreaksTheConnectionWithSizes) {
  ConnectionOptions small = TestOptions();
  small.max_frame_bytes = 1024;
  std::string server_error;
  ServerThread server(MustListen(LoopbackAddress(), small), [&](Listener& l) {
    auto c = l.Accept(kTimeout);
    ASSERT_TRUE(c.ok()) << c.status();
    proto::Record r;
    absl::Status status = (*c)->Receive(&r, kTimeout);
    server_error = status.ToString();
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
    // The stream cannot be resynchronised: the error sticks.
    EXPECT_EQ((*c)->Receive(&r, kTimeout), status);
  });
  auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  proto::Record big = Line(0);
  big.set_text(std::string(4000, 'x'));
  ASSERT_TRUE((*c)->SendNow(big, kTimeout).ok());
  server.Join();
  EXPECT_THAT(server_error, HasSubstr("exceeds the maximum frame size of 1024"));
  EXPECT_THAT(server_error, HasSubstr("connection from 127.0.0.1:"));
}

TEST(ConnectionTest, HugeClaimedLengthIsRejectedWithoutWaitingForTheBody) {
  ServerThread server(MustListen(LoopbackAddress()), [&](Listener& l) {
    auto c = l.Accept(kTimeout);
    ASSERT_TRUE(c.ok()) << c.status();
    proto::Record r;
    absl::Status status = (*c)->Receive(&r, kTimeout);
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_THAT(status.message(), HasSubstr("frame of 4294967295 bytes"));
  });
  auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string claim("\xff\xff\xff\xff\x0f", 5);  // 4 GiB - 1
  ASSERT_EQ(::send((*c)->fd(), claim.data(), claim.size(), MSG_NOSIGNAL), 5);
  server.Join();
}

// Partial frames of all a server's connections share one receive budget: a
// connection whose frame does not fit breaks with ResourceExhausted, and
// closed connections give their bytes back.
TEST(ConnectionTest, PartialFramesShareTheServersReceiveBudget) {
  ConnectionOptions options = TestOptions();
  auto budget = std::make_shared<ReceiveBudget>(2 << 20);
  options.receive_budget = budget;
  std::atomic<int> sent{0};
  absl::Status second_status;
  size_t held_with_one_partial = 0;
  ServerThread server(MustListen(LoopbackAddress(), options), [&](Listener& l) {
    auto a = l.Accept(kTimeout);
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = l.Accept(kTimeout);
    ASSERT_TRUE(b.ok()) << b.status();
    while (sent.load() < 2) std::this_thread::yield();
    proto::Record r;
    // A's 1.5 MiB of a 4 MiB frame: held and charged (beyond its first
    // chunk) until the rest comes, which it never does.
    const absl::Time until = absl::Now() + kTimeout;
    while (budget->held() < (3u << 19) - kReceiveChunkBytes &&
           absl::Now() < until) {
      EXPECT_EQ((*a)->Receive(&r, absl::Milliseconds(20)).code(),
                absl::StatusCode::kDeadlineExceeded);
    }
    held_with_one_partial = budget->held();
    // B's as much again does not fit in the 2 MiB they share.
    second_status = (*b)->Receive(&r, kTimeout);
    a->reset();
    b->reset();
  });
  std::string wire;
  proto::Record big = Line(0);
  big.set_text(std::string(4 << 20, 'x'));
  ASSERT_TRUE(AppendFrame(big, kDefaultMaxFrameBytes, &wire).ok());
  const size_t partial = 3 << 19;  // 1.5 MiB
  std::vector<std::unique_ptr<Connection>> clients;
  for (int i = 0; i < 2; ++i) {
    auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
    ASSERT_TRUE(c.ok()) << c.status();
    clients.push_back(*std::move(c));
  }
  for (const auto& c : clients) {
    size_t done = 0;
    while (done < partial) {
      ssize_t n = ::send(c->fd(), wire.data() + done, partial - done, MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      done += static_cast<size_t>(n);
    }
    sent.fetch_add(1);
  }
  server.Join();
  EXPECT_GE(held_with_one_partial, partial - 2 * kReceiveChunkBytes);
  EXPECT_EQ(second_status.code(), absl::StatusCode::kResourceExhausted)
      << second_status;
  EXPECT_THAT(second_status.message(), HasSubstr("receive budget"));
  EXPECT_EQ(budget->held(), 0u);  // both closed: everything given back
}

TEST(ConnectionTest, SendingAnOversizedMessageFailsButKeepsTheConnection) {
  ServerThread server(MustListen(LoopbackAddress()),
                      [](Listener& l) { EchoRecords(l, 1); });
  ConnectionOptions options = TestOptions();
  options.max_frame_bytes = 100;
  auto c = Connection::Connect(server.address(), options, kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  proto::Record big = Line(0);
  big.set_text(std::string(200, 'x'));
  absl::Status status = (*c)->SendNow(big, kTimeout);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("exceeds the maximum frame size"));
  ASSERT_TRUE((*c)->SendNow(Line(1), kTimeout).ok());
  proto::Record r;
  ASSERT_TRUE((*c)->Receive(&r, kTimeout).ok());
  EXPECT_EQ(r.sequence(), 1u);
}

// A client that is not syncstream at all.
UniqueFd RawConnect(const Address& address) {
  auto targets = Resolve(address);
  EXPECT_TRUE(targets.ok());
  UniqueFd fd(::socket(targets->front().family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(),
                      reinterpret_cast<const sockaddr*>(&targets->front().storage),
                      targets->front().length),
            0);
  return fd;
}

TEST(ConnectionTest, GarbageFromAStrayClientIsRefusedWithAReason) {
  ConnectionOptions options = TestOptions();
  options.handshake_timeout = absl::Milliseconds(300);
  std::vector<absl::Status> errors;
  ServerThread server(MustListen(LoopbackAddress(), options), [&](Listener& l) {
    for (int i = 0; i < 3; ++i) {
      auto c = l.Accept(kTimeout);
      if (c.ok()) {  // the third is a real client: still served
        proto::Record r;
        ASSERT_TRUE((*c)->Receive(&r, kTimeout).ok());
        ASSERT_TRUE((*c)->SendNow(r, kTimeout).ok());
      } else {
        errors.push_back(c.status());
      }
    }
  });
  {
    UniqueFd bytes = RawConnect(server.address());
    const std::string junk(16, '\xff');  // no valid length prefix
    ASSERT_EQ(::send(bytes.get(), junk.data(), junk.size(), MSG_NOSIGNAL), 16);
    char c;
    EXPECT_EQ(::recv(bytes.get(), &c, 1, 0), 0);  // closed by the server
  }
  {
    UniqueFd http = RawConnect(server.address());
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_GT(::send(http.get(), get.data(), get.size(), MSG_NOSIGNAL), 0);
    char c;
    EXPECT_EQ(::recv(http.get(), &c, 1, 0), 0);  // timed out and closed
  }
  auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->SendNow(Line(3), kTimeout).ok());
  proto::Record r;
  ASSERT_TRUE((*c)->Receive(&r, kTimeout).ok());
  server.Join();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kDataLoss) << errors[0];
  EXPECT_THAT(errors[0].message(), HasSubstr("not a syncstream client?"));
  EXPECT_THAT(errors[1].message(), HasSubstr("not a syncstream client?"));
}

TEST(ConnectionTest, ServiceMismatchIsRefusedOnBothSides) {
  absl::Status server_error;
  ServerThread server(MustListen(LoopbackAddress()), [&](Listener& l) {
    server_error = l.Accept(kTimeout).status();
  });
  ConnectionOptions other = TestOptions();
  other.service = "manager";
  auto c = Connection::Connect(server.address(), other, kTimeout);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(c.status().message(),
              HasSubstr("this server serves 'test', not 'manager'"));
  server.Join();
  EXPECT_EQ(server_error.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ConnectionTest, PeerClosingIsUnavailable) {
  ServerThread server(MustListen(UniqueUnixAddress()), [](Listener& l) {
    auto c = l.Accept(kTimeout);
    ASSERT_TRUE(c.ok()) << c.status();
  });
  auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  server.Join();
  proto::Record r;
  absl::Status status = (*c)->Receive(&r, kTimeout);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("closed by peer"));
}

TEST(ConnectionTest, ShutdownWakesABlockedReceive) {
  std::atomic<bool> done{false};
  ServerThread server(MustListen(LoopbackAddress()), [&](Listener& l) {
    auto c = l.Accept(kTimeout);
    ASSERT_TRUE(c.ok()) << c.status();
    proto::Record r;
    (*c)->Receive(&r, kTimeout).IgnoreError();
  });
  auto c = Connection::Connect(server.address(), TestOptions(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::Status status;
  std::thread receiver([&] {
    proto::Record r;
    status = (*c)->Receive(&r, kTimeout);
    done = true;
  });
  (*c)->Shutdown();
  receiver.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(ConnectionTest, ConnectingToNothingIsUnavailable) {
  Address address = UniqueUnixAddress();
  auto c = Connection::Connect(address, TestOptions(), kTimeout);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr(address.ToString()));
}

TEST(ListenerTest, AcceptTimesOutAndShutdownCancels) {
  std::unique_ptr<Listener> listener = MustListen(LoopbackAddress());
  EXPECT_EQ(listener->AcceptSocket(absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  std::thread stopper([&] { listener->Shutdown(); });
  EXPECT_EQ(listener->AcceptSocket(kTimeout).status().code(),
            absl::StatusCode::kCancelled);
  stopper.join();
}

TEST(ListenerTest, StaleUnixSocketIsReplacedAndLiveOneRefused) {
  Address address = UniqueUnixAddress();
  {
    // What a crashed server leaves: a bound socket file nobody listens on.
    auto target = Resolve(address);
    ASSERT_TRUE(target.ok());
    UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::bind(stale.get(),
                     reinterpret_cast<const sockaddr*>(&target->front().storage),
                     target->front().length),
              0);
  }
  std::unique_ptr<Listener> first = MustListen(address);
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<Listener>> second =
      Listener::Listen(address, TestOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr(address.path));
  first.reset();
  EXPECT_NE(::access(address.path.c_str(), F_OK), 0);  // removed
}

}  // namespace
}  // namespace syncstream::net
