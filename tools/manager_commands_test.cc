// Runs the `syncstream` binary (argv[1]): `manager serve` as its own process,
// clients of this test holding and waiting on a Lock, then `manager ls`
// (text and --json) showing them; SIGTERM stops the server cleanly.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "syncstream/core/child_process.h"
#include "syncstream/manager/client.h"
#include "syncstream/manager/proxies.h"
#include "syncstream/net/testing/test_server.h"
#include "syncstream/core/deadline.h"

namespace syncstream::manager {
namespace {

std::string binary;

std::string RunCommand(const std::string& args) {
  std::string out;
  FILE* p = ::popen(("timeout 20 " + binary + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(ManagerCommandsTest, ServeAndLs) {
  std::string address = net::testing::UniqueUnixAddress().ToString();
  SpawnOptions options;
  options.argv = {binary, "manager", "serve", "--listen", address};
  options.stdout_to = FdRedirect::DevNull();
  absl::StatusOr<ChildProcess> server = ChildProcess::Spawn(options);
  ASSERT_TRUE(server.ok()) << server.status();

  absl::StatusOr<std::shared_ptr<ManagerClient>> holder;
  absl::Time deadline = ::syncstream::Now() + absl::Seconds(20);
  do {
    absl::SleepFor(absl::Milliseconds(10));
    holder = ManagerClient::Connect(address, net::AuthKey());
  } while (!holder.ok() && ::syncstream::Now() < deadline);
  ASSERT_TRUE(holder.ok()) << holder.status();
  Lock lock = *(*holder)->GetOrCreate<Lock>("jobs-lock");
  ASSERT_TRUE(lock.Acquire(absl::Seconds(5)).ok());
  auto waiter_client = *ManagerClient::Connect(address, net::AuthKey());
  Lock waiter_lock = *waiter_client->Get<Lock>("jobs-lock");
  auto waiting = std::async(std::launch::async, [&] {
    return waiter_lock.Acquire(absl::Seconds(20));
  });
  std::string json;
  deadline = ::syncstream::Now() + absl::Seconds(20);
  do {  // until the waiter is seen
    json = RunCommand("manager ls " + address + " --json");
  } while (json.find("\"waiters\": 1") == std::string::npos &&
           ::syncstream::Now() < deadline);
  EXPECT_NE(json.find("\"waiters\": 1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\": \"jobs-lock\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"type\": \"lock\""), std::string::npos) << json;
  std::string text = RunCommand("manager ls " + address);
  EXPECT_NE(text.find("jobs-lock"), std::string::npos) << text;
  EXPECT_NE(text.find("locked"), std::string::npos) << text;
  EXPECT_NE(text.find("thread"), std::string::npos) << text;  // the holder

  ASSERT_TRUE(lock.Release().ok());
  EXPECT_TRUE(waiting.get().ok());

  ASSERT_TRUE(server->Kill(SIGTERM).ok());
  absl::StatusOr<ExitStatus> status = server->Wait(absl::Seconds(20));
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success()) << status->ToString();
  EXPECT_EQ(waiter_lock.Locked().status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ManagerCommandsTest, LsEscapesNames) {
  std::string address = net::testing::UniqueUnixAddress().ToString();
  SpawnOptions options;
  options.argv = {binary, "manager", "serve", "--listen", address};
  options.stdout_to = FdRedirect::DevNull();
  absl::StatusOr<ChildProcess> server = ChildProcess::Spawn(options);
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::shared_ptr<ManagerClient>> client;
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(20);
  do {
    absl::SleepFor(absl::Milliseconds(10));
    client = ManagerClient::Connect(address, net::AuthKey());
  } while (!client.ok() && ::syncstream::Now() < deadline);
  ASSERT_TRUE(client.ok()) << client.status();
  // A name that would retitle and recolour the terminal.
  ASSERT_TRUE((*client)->GetOrCreate<Lock>("evil\x1b]0;TITLE\x07\x1b[31mRED").ok());
  std::string text = RunCommand("manager ls " + address);
  EXPECT_NE(text.find("evil\\x1b]0;TITLE\\x07\\x1b[31mRED"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  std::string json = RunCommand("manager ls " + address + " --json");
  EXPECT_NE(json.find("\"name\": \"evil\\u001b]0;TITLE\\u0007\\u001b[31mRED\""),
            std::string::npos)
      << json;
  ASSERT_TRUE(server->Kill(SIGTERM).ok());
  EXPECT_TRUE(server->Wait(absl::Seconds(20)).ok());
}

TEST(ManagerCommandsTest, LsOfNothingFails) {
  std::string out = RunCommand("manager ls unix:/nonexistent/m.sock");
  EXPECT_NE(out.find("syncstream manager ls:"), std::string::npos) << out;
}

}  // namespace
}  // namespace syncstream::manager

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) syncstream::manager::binary = argv[1];
  return RUN_ALL_TESTS();
}
