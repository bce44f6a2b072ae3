// RunAcceptLoop out of descriptors: it backs off and logs the failure once,
// instead of retrying (and logging) in a hot loop, and accepts the pending
// clients once descriptors are free again.
#include "syncstream/net/accept_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream::net {
namespace {

TEST(AcceptLoopTest, OutOfDescriptorsBacksOffAndLogsOnce) {
  ConnectionOptions options;
  auto listener = Listener::Listen(*ParseAddress("tcp:127.0.0.1:0"), options);
  ASSERT_TRUE(listener.ok()) << listener.status();
  const Address address = (*listener)->address();
  // Pending clients: the kernel completes their connections in the backlog.
  constexpr int kClients = 20;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(address.port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    clients.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(clients.back().get(),
                        reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              0);
  }
  std::mutex mutex;
  std::vector<std::string> log;
  std::atomic<int> accepted{0};
  std::atomic<uint64_t> wakeups{0};
  AcceptLoopCallbacks callbacks;
  callbacks.on_accept = [&](Listener::AcceptedSocket) { ++accepted; };
  callbacks.between = [&] { ++wakeups; };
  callbacks.log = [&](absl::string_view line) {
    std::lock_guard<std::mutex> guard(mutex);
    log.emplace_back(line);
  };
  callbacks.max_backoff = absl::Milliseconds(200);
  auto log_lines = [&] {
    std::lock_guard<std::mutex> guard(mutex);
    return log.size();
  };

  // No descriptor left: the lowest free number is the limit.
  rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit tight = saved;
  tight.rlim_cur = lowest_free;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::thread loop([&] { RunAcceptLoop(**listener, callbacks); });
  while (wakeups.load() < 6) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const size_t lines_while_exhausted = log_lines();
  const uint64_t wakeups_while_exhausted = wakeups.load();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);

  while (accepted.load() < kClients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (*listener)->Shutdown();
  loop.join();
  // 6 failed accepts waited 10+20+40+80+160 ms between them; the first
  // failure is logged, the following ones (within 10 s) are not.
  EXPECT_EQ(lines_while_exhausted, 1u);
  EXPECT_GE(wakeups_while_exhausted, 6u);
  std::lock_guard<std::mutex> guard(mutex);
  ASSERT_GE(log.size(), 2u);
  EXPECT_TRUE(absl::StrContains(log[0], "Too many open files")) << log[0];
  EXPECT_TRUE(absl::StrContains(log.back(), "accepting again after"))
      << log.back();
}

}  // namespace
}  // namespace syncstream::net
