// LineHostMirror and LineHostReader on a JetStream stream of one real
// nats-server (started here on loopback, storage under $TEST_TMPDIR):
// exactly-once delivery in each sender's order, last-N and following
// (through a server restart), a mirror process SIGKILLed while writing, a
// refused credential, a missing stream.
//
// The killed mirror is this binary run again with --mirror-child (see
// main), so that the child starts the NATS client in a fresh process.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/host/internal/batch_codec.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/nats/internal/client.h"
#include "syncstream/nats/jetstream_reader.h"
#include "syncstream/nats/jetstream_stream.h"
#include "syncstream/nats/testing/nats_server.h"
#include "syncstream/net/address.h"

namespace syncstream {
namespace {

using ::testing::HasSubstr;
using nats::testing::NatsServer;
using nats::testing::NatsServerOptions;

std::string g_self;  // this binary, for the mirror child

LineHostMirrorOptions NatsMirrorOptions(const net::Address& address,
                                        const std::string& name) {
  LineHostMirrorOptions options;
  options.collector = address;
  options.writer.name = name;
  options.ack_timeout = absl::Seconds(3);
  options.connect_timeout = absl::Seconds(3);
  options.close_timeout = absl::Seconds(60);
  return options;
}

// Every record's text is "<sender> <i>"; checks that each sender's numbers
// are exactly 0..count-1 in order, and returns the count per sender.
std::map<std::string, int> CheckSenderOrder(
    const std::vector<Record>& records) {
  std::map<std::string, int> next;
  for (const Record& r : records) {
    const size_t space = r.text.rfind(' ');
    int i = -1;
    EXPECT_NE(space, std::string::npos) << r.text;
    if (space == std::string::npos) continue;
    EXPECT_TRUE(absl::SimpleAtoi(r.text.substr(space + 1), &i)) << r.text;
    const std::string sender = r.text.substr(0, space);
    EXPECT_EQ(r.sender, sender);
    EXPECT_EQ(i, next[sender]) << "sender " << sender;
    next[sender] = i + 1;
  }
  return next;
}

class JetStreamTest : public ::testing::Test {
 protected:
  void StartServer(const std::string& user = "",
                   const std::string& password = "") {
    NatsServerOptions options;
    options.directory = nats::testing::ServerDirectory(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_FALSE(options.directory.empty());
    options.user = user;
    options.password = password;
    absl::StatusOr<std::unique_ptr<NatsServer>> server =
        NatsServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    text_ = absl::StrCat("nats://", server_->host_port(), "/LINES");
    absl::StatusOr<net::Address> address = net::ParseAddress(text_);
    ASSERT_TRUE(address.ok()) << address.status();
    address_ = *address;
  }

  void CreateStream(const nats::JetStreamCredentials& credentials = {}) {
    nats::JetStreamStreamSettings settings;
    settings.max_lines = 1000000;
    absl::Status created = nats::testing::CreateStreamWhenReady(
        address_.jetstream, settings, credentials);
    ASSERT_TRUE(created.ok()) << created;
  }

  std::unique_ptr<LineHostReader> Reader() {
    absl::StatusOr<std::unique_ptr<LineHostReader>> reader =
        LineHostReader::Connect(address_, {}, absl::Seconds(5));
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? std::move(*reader) : nullptr;
  }

  std::unique_ptr<NatsServer> server_;
  std::string text_;
  net::Address address_;
};

TEST_F(JetStreamTest, FourMirrorsArriveExactlyOnceInEachSendersOrder) {
  StartServer();
  CreateStream();
  constexpr int kMirrors = 4;
  constexpr int kLines = 50000;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int m = 0; m < kMirrors; ++m) {
    threads.emplace_back([&, m] {
      const std::string name = absl::StrCat("mirror-", m);
      auto mirror =
          LineHostMirror::Create(NatsMirrorOptions(address_, name));
      if (!mirror.ok()) {
        ADD_FAILURE() << mirror.status();
        ++failures;
        return;
      }
      for (int i = 0; i < kLines; ++i) {
        absl::Status written =
            (*mirror)->Write(absl::StrCat(name, " ", i, "\n"));
        if (!written.ok()) {
          ADD_FAILURE() << written;
          ++failures;
          return;
        }
      }
      absl::Status closed = (*mirror)->Close(absl::Seconds(60));
      if (!closed.ok()) {
        ADD_FAILURE() << closed;
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::unique_ptr<LineHostReader> reader = Reader();
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<std::vector<Record>> all = reader->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), static_cast<size_t>(kMirrors * kLines));
  std::map<std::string, int> counts = CheckSenderOrder(*all);
  ASSERT_EQ(counts.size(), static_cast<size_t>(kMirrors));
  for (const auto& [sender, count] : counts) {
    EXPECT_EQ(count, kLines) << sender;
  }
}

TEST_F(JetStreamTest, LastNAndFollowingThroughAServerRestart) {
  StartServer();
  CreateStream();
  auto mirror = LineHostMirror::Create(NatsMirrorOptions(address_, "m"));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  // Several batches: Sync after each tenth line.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*mirror)->Write(absl::StrCat("m ", i, "\n")).ok());
    if (i % 10 == 9) {
      ASSERT_TRUE((*mirror)->Sync(absl::Seconds(10)).ok());
    }
  }
  std::unique_ptr<LineHostReader> reader = Reader();
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<std::vector<Record>> last = reader->Read(15);
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_EQ(last->size(), 15u);
  EXPECT_EQ(last->front().text, "m 85");
  EXPECT_EQ(last->back().text, "m 99");

  absl::StatusOr<std::unique_ptr<HostFollower>> follower = reader->Follow(5);
  ASSERT_TRUE(follower.ok()) << follower.status();
  std::vector<std::string> seen;
  auto take = [&](size_t until) {
    const absl::Time deadline = DeadlineAfter(absl::Seconds(30));
    while (seen.size() < until && ::syncstream::Now() < deadline) {
      absl::StatusOr<std::vector<Record>> more =
          (*follower)->Next(absl::Milliseconds(500));
      if (!more.ok()) {
        EXPECT_EQ(more.status().code(), absl::StatusCode::kDeadlineExceeded)
            << more.status();
        continue;
      }
      for (const Record& r : *more) seen.push_back(r.text);
    }
  };
  take(5);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen.front(), "m 95");
  for (int i = 100; i < 150; ++i) {
    ASSERT_TRUE((*mirror)->Write(absl::StrCat("m ", i, "\n")).ok());
  }
  ASSERT_TRUE((*mirror)->Sync(absl::Seconds(10)).ok());
  take(55);
  // The server dies and comes back on the same storage: the mirror resends
  // what was not acknowledged, the follower resumes where it was.
  ASSERT_TRUE(server_->Kill().ok());
  for (int i = 150; i < 200; ++i) {
    ASSERT_TRUE((*mirror)->Write(absl::StrCat("m ", i, "\n")).ok());
  }
  ASSERT_TRUE(server_->Restart().ok());
  ASSERT_TRUE((*mirror)->Sync(absl::Seconds(30)).ok());
  take(105);
  std::vector<std::string> expected;
  for (int i = 95; i < 200; ++i) expected.push_back(absl::StrCat("m ", i));
  EXPECT_EQ(seen, expected);
  // Nothing more than that arrives.
  absl::StatusOr<std::vector<Record>> more =
      (*follower)->Next(absl::Milliseconds(300));
  EXPECT_EQ(more.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE((*mirror)->Close(absl::Seconds(10)).ok());
}

TEST_F(JetStreamTest, AMirrorKilledWhileWritingLeavesACleanPrefix) {
  StartServer();
  CreateStream();
  SpawnOptions spawn;
  spawn.argv = {g_self, "--mirror-child", text_, "victim"};
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(spawn);
  ASSERT_TRUE(child.ok()) << child.status();
  std::unique_ptr<LineHostReader> reader = Reader();
  ASSERT_NE(reader, nullptr);
  // Kill it once a few thousand lines are stored, in the middle of writing.
  const absl::Time deadline = DeadlineAfter(absl::Seconds(30));
  for (;;) {
    absl::StatusOr<std::vector<Record>> last = reader->Read(1);
    ASSERT_TRUE(last.ok()) << last.status();
    int i = 0;
    if (!last->empty() &&
        absl::SimpleAtoi(last->back().text.substr(7), &i) && i >= 5000) {
      break;
    }
    ASSERT_LT(::syncstream::Now(), deadline) << "the child stored too little";
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(child->Kill(SIGKILL).ok());
  absl::StatusOr<ExitStatus> ended = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(ended.ok());
  EXPECT_TRUE(ended->signaled);
  absl::StatusOr<std::vector<Record>> all = reader->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  std::map<std::string, int> counts = CheckSenderOrder(*all);
  EXPECT_GE(counts["victim"], 5000);
  EXPECT_EQ(all->size(), static_cast<size_t>(counts["victim"]));
}

TEST_F(JetStreamTest, AWrongCredentialIsRefusedClearly) {
  StartServer("syncstream", "right-password");
  nats::JetStreamCredentials right;
  right.user = "syncstream";
  right.password = "right-password";
  CreateStream(right);
  nats::JetStreamCredentials wrong = right;
  wrong.password = "wrong-password";
  LineHostMirrorOptions options = NatsMirrorOptions(address_, "m");
  options.jetstream = wrong;
  auto refused = LineHostMirror::Create(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated)
      << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr(text_));
  auto reader = LineHostReader::Connect(address_, {}, absl::Seconds(5), wrong);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kUnauthenticated)
      << reader.status();
  // No credential at all is refused too; the right one works.
  auto anonymous = LineHostReader::Connect(address_, {}, absl::Seconds(5));
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kUnauthenticated)
      << anonymous.status();
  options.jetstream = right;
  auto mirror = LineHostMirror::Create(options);
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  ASSERT_TRUE((*mirror)->Write("m 0\n").ok());
  ASSERT_TRUE((*mirror)->Close(absl::Seconds(10)).ok());
  auto good = LineHostReader::Connect(address_, {}, absl::Seconds(5), right);
  ASSERT_TRUE(good.ok()) << good.status();
  absl::StatusOr<std::vector<Record>> all = (*good)->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().text, "m 0");
}

TEST_F(JetStreamTest, AMirrorWithoutItsStreamSaysHowToCreateIt) {
  StartServer();
  auto mirror = LineHostMirror::Create(NatsMirrorOptions(address_, "m"));
  ASSERT_FALSE(mirror.ok());
  EXPECT_EQ(mirror.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(mirror.status().message(),
              HasSubstr(absl::StrCat("syncstream stream create ", text_,
                                     " --max_lines")));
  auto reader = LineHostReader::Connect(address_, {}, absl::Seconds(5));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kFailedPrecondition);
}

// A batch stored twice (resent after the stream's duplicate window, so
// JetStream kept both) is given once by Read and by a follower.
TEST_F(JetStreamTest, ABatchStoredTwiceIsReadOnce) {
  StartServer();
  nats::JetStreamStreamSettings settings;
  settings.max_lines = 1000;
  settings.duplicate_window = absl::Milliseconds(100);
  ASSERT_TRUE(nats::testing::CreateStreamWhenReady(address_.jetstream,
                                                   settings).ok());
  std::string batch;
  host::internal::BatchEncoder encoder;
  encoder.Reset(&batch);
  Record record;
  record.sender = "m";
  record.text = "m 0";
  encoder.Add(record);
  absl::StatusOr<std::unique_ptr<nats::internal::Client>> client =
      nats::internal::Client::Connect(address_.jetstream, {}, absl::Seconds(5),
                                      "test");
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string subject = address_.jetstream.SenderSubject("m");
  const std::string id = "0123456789abcdef0123456789abcdef-1";
  for (int copy = 0; copy < 2; ++copy) {
    if (copy == 1) absl::SleepFor(absl::Milliseconds(300));  // past the window
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MsgId = id.c_str();
    jsPubAck* ack = nullptr;
    ASSERT_EQ(js_Publish(&ack, (*client)->js(), subject.c_str(), batch.data(),
                         static_cast<int>(batch.size()), &options, nullptr),
              NATS_OK);
    EXPECT_FALSE(ack->Duplicate);
    jsPubAck_Destroy(ack);
  }
  std::unique_ptr<LineHostReader> reader = Reader();
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<std::vector<Record>> all = reader->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().text, "m 0");
  auto follower = reader->Follow(nats::JetStreamReader::kAll);
  ASSERT_TRUE(follower.ok()) << follower.status();
  absl::StatusOr<std::vector<Record>> followed =
      (*follower)->Next(absl::Seconds(5));
  ASSERT_TRUE(followed.ok()) << followed.status();
  EXPECT_EQ(followed->size(), 1u);
  EXPECT_EQ((*follower)->Next(absl::Milliseconds(300)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

// A message on the stream's subjects that no mirror published is refused
// as DataLoss naming its sequence, not handed out.
TEST_F(JetStreamTest, AForeignMessageIsDataLoss) {
  StartServer();
  CreateStream();
  absl::StatusOr<std::unique_ptr<nats::internal::Client>> client =
      nats::internal::Client::Connect(address_.jetstream, {}, absl::Seconds(5),
                                      "test");
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string subject = address_.jetstream.SenderSubject("intruder");
  for (const char* id : {"", "0123456789abcdef0123456789abcdef-1"}) {
    jsPubOptions options;
    jsPubOptions_Init(&options);
    if (*id != '\0') options.MsgId = id;
    jsPubAck* ack = nullptr;
    ASSERT_EQ(js_Publish(&ack, (*client)->js(), subject.c_str(), "garbage", 7,
                         &options, nullptr),
              NATS_OK);
    jsPubAck_Destroy(ack);
    std::unique_ptr<LineHostReader> reader = Reader();
    ASSERT_NE(reader, nullptr);
    absl::StatusOr<std::vector<Record>> all = reader->ReadAll();
    ASSERT_FALSE(all.ok());
    EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(all.status().message(),
                HasSubstr(*id == '\0' ? "message 1 has no Nats-Msg-Id"
                                      : "message 2: record batch"));
  }
}

// A reader can keep to one mirror's batches (its subject), in Read and in
// a follower.
TEST_F(JetStreamTest, AReaderCanKeepToOneMirror) {
  StartServer();
  CreateStream();
  for (const char* name : {"a", "b", "a.b"}) {
    auto mirror = LineHostMirror::Create(NatsMirrorOptions(address_, name));
    ASSERT_TRUE(mirror.ok()) << mirror.status();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((*mirror)->Write(absl::StrCat(name, " ", i, "\n")).ok());
      ASSERT_TRUE((*mirror)->Sync(absl::Seconds(10)).ok());
    }
    ASSERT_TRUE((*mirror)->Close(absl::Seconds(10)).ok());
  }
  auto reader =
      nats::JetStreamReader::Connect(address_.jetstream, {}, absl::Seconds(5));
  ASSERT_TRUE(reader.ok()) << reader.status();
  (*reader)->OnlyMirror("a");
  absl::StatusOr<std::vector<Record>> last = (*reader)->Read(2);
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_EQ(last->size(), 2u);
  EXPECT_EQ((*last)[0].text, "a 1");
  EXPECT_EQ((*last)[1].text, "a 2");
  auto follower = (*reader)->FollowFrom(1);
  ASSERT_TRUE(follower.ok()) << follower.status();
  std::vector<std::string> followed;
  while (followed.size() < 3) {
    absl::StatusOr<std::vector<Record>> more =
        (*follower)->Next(absl::Seconds(5));
    ASSERT_TRUE(more.ok()) << more.status();
    for (const Record& r : *more) followed.push_back(r.text);
  }
  EXPECT_EQ(followed, (std::vector<std::string>{"a 0", "a 1", "a 2"}));
  EXPECT_EQ((*follower)->Next(absl::Milliseconds(300)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  (*reader)->OnlyMirror("");
  absl::StatusOr<std::vector<Record>> all = (*reader)->Read(0);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 9u);
}

// --mirror-child ADDRESS NAME: writes "NAME i" lines until killed.
int RunMirrorChild(const std::string& address_text, const std::string& name) {
  absl::StatusOr<net::Address> address = net::ParseAddress(address_text);
  if (!address.ok()) return 2;
  LineHostMirrorOptions options = NatsMirrorOptions(*address, name);
  options.batch_max_records = 64;  // many batches
  auto mirror = LineHostMirror::Create(options);
  if (!mirror.ok()) {
    fprintf(stderr, "%s\n", mirror.status().ToString().c_str());
    return 1;
  }
  for (int i = 0;; ++i) {
    if (!(*mirror)->Write(absl::StrCat(name, " ", i, "\n")).ok()) return 1;
  }
}

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--mirror-child") {
    return syncstream::RunMirrorChild(argv[2], argv[3]);
  }
  syncstream::g_self = argv[0];
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
