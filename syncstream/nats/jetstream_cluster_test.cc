// A 3-node JetStream cluster on loopback (real nats-server processes) and a
// stream with 3 replicas: 4 mirrors write while the stream's leader is
// SIGKILLed, and it is restarted once they are done. Every acknowledged line must
// be read exactly once, in each sender's order, by a reader afterwards and
// by a follower that followed throughout.
#include <atomic>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "syncstream/core/deadline.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/nats/jetstream_reader.h"
#include "syncstream/nats/jetstream_stream.h"
#include "syncstream/nats/testing/nats_server.h"
#include "syncstream/net/address.h"

namespace syncstream {
namespace {

using nats::testing::NatsServer;

constexpr int kMirrors = 4;
constexpr int kBeforeKill = 5000;  // lines per mirror, at least
constexpr int kAfterKill = 10000;

// Checks that each sender's "<sender> <i>" lines are 0, 1, 2, ... in order;
// returns how many each sent.
std::map<std::string, int> CheckSenderOrder(
    const std::vector<std::string>& texts) {
  std::map<std::string, int> next;
  for (const std::string& text : texts) {
    const size_t space = text.rfind(' ');
    int i = -1;
    if (space == std::string::npos ||
        !absl::SimpleAtoi(text.substr(space + 1), &i)) {
      ADD_FAILURE() << "not a test line: " << text;
      continue;
    }
    const std::string sender = text.substr(0, space);
    EXPECT_EQ(i, next[sender]) << "sender " << sender;
    next[sender] = i + 1;
  }
  return next;
}

TEST(JetStreamClusterTest, TheLeadersDeathLosesAndRepeatsNothing) {
  const std::string dir = nats::testing::ServerDirectory("cluster");
  ASSERT_FALSE(dir.empty());
  absl::StatusOr<std::vector<std::unique_ptr<NatsServer>>> started =
      nats::testing::StartCluster(dir, 3);
  ASSERT_TRUE(started.ok()) << started.status();
  std::vector<std::unique_ptr<NatsServer>>& servers = *started;
  const nats::JetStreamAddress stream =
      nats::testing::AddressOf(servers, "LINES");
  nats::JetStreamStreamSettings settings;
  settings.max_lines = 1000000;
  settings.replicas = 3;
  absl::Status created =
      nats::testing::CreateStreamWhenReady(stream, settings, {},
                                           absl::Seconds(60));
  ASSERT_TRUE(created.ok()) << created;
  net::Address address;
  address.family = net::Address::Family::kJetStream;
  address.jetstream = stream;

  // The follower, from the stream's start, throughout, until it has every
  // line the mirrors wrote (known once they are done).
  std::vector<std::string> followed;
  std::atomic<size_t> total{0};
  std::thread follower_thread([&] {
    auto reader = nats::JetStreamReader::Connect(stream, {}, absl::Seconds(10));
    ASSERT_TRUE(reader.ok()) << reader.status();
    auto follower = (*reader)->FollowFrom(1);
    ASSERT_TRUE(follower.ok()) << follower.status();
    const absl::Time deadline = DeadlineAfter(absl::Seconds(120));
    while ((total == 0 || followed.size() < total) &&
           ::syncstream::Now() < deadline) {
      absl::StatusOr<std::vector<Record>> more =
          (*follower)->Next(absl::Milliseconds(200));
      if (!more.ok()) {
        ASSERT_EQ(more.status().code(), absl::StatusCode::kDeadlineExceeded)
            << more.status();
        continue;
      }
      for (const Record& r : *more) followed.push_back(r.text);
    }
  });

  // The mirrors write without pause through the leader's death: each goes
  // on for kAfterKill lines once it sees the kill, so batches are in flight
  // when it comes and during the election.
  std::atomic<int> written[kMirrors] = {};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<bool> killed{false};
  std::vector<std::thread> mirrors;
  for (int m = 0; m < kMirrors; ++m) {
    mirrors.emplace_back([&, m] {
      const std::string name = absl::StrCat("mirror-", m);
      LineHostMirrorOptions options;
      options.collector = address;
      options.writer.name = name;
      options.ack_timeout = absl::Seconds(2);
      options.connect_timeout = absl::Seconds(2);
      options.block_timeout = absl::Seconds(60);
      auto mirror = LineHostMirror::Create(options);
      ASSERT_TRUE(mirror.ok()) << mirror.status();
      int stop_at = -1;
      for (int i = 0; i != stop_at; ++i) {
        ASSERT_TRUE((*mirror)->Write(absl::StrCat(name, " ", i, "\n")).ok());
        written[m] = i + 1;
        if (stop_at < 0 && killed) stop_at = i + 1 + kAfterKill;
      }
      absl::Status closed = (*mirror)->Close(absl::Seconds(90));
      EXPECT_TRUE(closed.ok()) << name << ": " << closed;
      const LineHostMirror::Stats stats = (*mirror)->stats();
      std::cout << name << ": " << written[m] << " lines, "
                << stats.batches_sent << " batches sent, "
                << stats.batches_resent << " resent, " << stats.reconnects
                << " reconnections" << std::endl;
      reconnects += stats.reconnects;
    });
  }
  const absl::Time deadline = DeadlineAfter(absl::Seconds(60));
  for (int m = 0; m < kMirrors; ++m) {
    while (written[m] < kBeforeKill) {
      ASSERT_LT(::syncstream::Now(), deadline) << "mirror " << m << " stuck";
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  absl::StatusOr<nats::JetStreamStreamInfo> info =
      nats::GetJetStreamStreamInfo(stream, {});
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_FALSE(info->leader.empty());
  NatsServer* leader = nullptr;
  for (auto& server : servers) {
    if (server->name() == info->leader) leader = server.get();
  }
  ASSERT_NE(leader, nullptr) << info->leader;
  ASSERT_TRUE(leader->Kill().ok());
  killed = true;
  for (auto& t : mirrors) t.join();
  std::map<std::string, int> expected;
  size_t sum = 0;
  for (int m = 0; m < kMirrors; ++m) {
    expected[absl::StrCat("mirror-", m)] = written[m];
    sum += static_cast<size_t>(written[m]);
    EXPECT_GE(written[m], kBeforeKill + kAfterKill);
  }
  total = sum;
  // The failover was exercised: batches in flight had to be resent.
  EXPECT_GE(reconnects.load(), 1u);
  ASSERT_TRUE(leader->Restart().ok());

  follower_thread.join();
  EXPECT_EQ(followed.size(), sum);
  EXPECT_EQ(CheckSenderOrder(followed), expected);

  auto reader = LineHostReader::Connect(address, {}, absl::Seconds(10));
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::vector<Record>> all = (*reader)->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> texts;
  for (const Record& r : *all) texts.push_back(r.text);
  EXPECT_EQ(texts.size(), sum);
  EXPECT_EQ(CheckSenderOrder(texts), expected);
}

}  // namespace
}  // namespace syncstream
