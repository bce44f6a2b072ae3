// The collector is the real `syncstream serve` binary with --store, killed
// with SIGKILL and restarted in the middle of 4 clients writing 100k lines
// each: every line must arrive exactly once, in each client's order.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "syncstream/core/child_process.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/net/connection.h"
#include "syncstream/host/testing/host_fixture.h"
#include "syncstream/core/deadline.h"

namespace syncstream {
namespace {

using testing::MirrorOptions;
using testing::WaitFor;

std::string g_syncstream_binary;  // from argv

constexpr int kClients = 4;
constexpr int kLinesPerClient = 100000;

// A `syncstream serve` child and the address it reported.
struct Collector {
  ChildProcess process;
  std::string address;
};

// `store` "" runs without --store; `log_file`, if given, receives stderr.
absl::StatusOr<Collector> StartServe(const std::string& listen,
                                     const std::string& store,
                                     const std::string& log_file = "") {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  SpawnOptions options;
  options.argv = {g_syncstream_binary, "serve", "--listen", listen,
                  "--maxlen", std::to_string(kClients * kLinesPerClient + 100)};
  if (!store.empty()) {
    options.argv.push_back("--store");
    options.argv.push_back(store);
  }
  options.env = {{"SYNCSTREAM_AUTH_KEY", "kill-test-key-0123456789"}};
  options.stdout_to = FdRedirect::To(write_end.get());
  UniqueFd log;
  if (!log_file.empty()) {
    log.Reset(::open(log_file.c_str(),
                     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!log.valid()) return absl::InternalError("open " + log_file);
    options.stderr_to = FdRedirect::To(log.get());
  }
  Collector collector;
  auto spawned = ChildProcess::Spawn(options);
  if (!spawned.ok()) return spawned.status();
  collector.process = std::move(*spawned);
  write_end.Reset();
  // "syncstream serve: listening on tcp:127.0.0.1:PORT (...)"
  std::string output;
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(30);
  while (output.find('\n') == std::string::npos) {
    pollfd p{read_end.get(), POLLIN, 0};
    if (::syncstream::Now() >= deadline || ::poll(&p, 1, 100) < 0) {
      return absl::DeadlineExceededError("serve did not report its address");
    }
    char buffer[256];
    ssize_t n = ::read(read_end.get(), buffer, sizeof(buffer));
    if (n == 0) return absl::UnavailableError("serve exited: " + output);
    if (n > 0) output.append(buffer, n);
  }
  const std::string marker = "listening on ";
  size_t at = output.find(marker);
  if (at == std::string::npos) return absl::InternalError(output);
  size_t end = output.find(' ', at + marker.size());
  collector.address = output.substr(at + marker.size(),
                                    end - at - marker.size());
  return collector;
}

TEST(HostKillTest, SigkilledCollectorWithStoreLosesAndDuplicatesNothing) {
  ASSERT_FALSE(g_syncstream_binary.empty());
  const std::string store = absl::StrCat(getenv("TEST_TMPDIR"), "/store");
  auto collector = StartServe("tcp:127.0.0.1:0", store);
  ASSERT_TRUE(collector.ok()) << collector.status();
  const net::Address address = *net::ParseAddress(collector->address);
  const net::AuthKey key =
      *net::AuthKey::FromBytes("kill-test-key-0123456789");

  std::vector<std::unique_ptr<LineHostMirror>> mirrors;
  for (int c = 0; c < kClients; ++c) {
    auto options = MirrorOptions(address, absl::StrCat("client", c), key);
    options.close_timeout = absl::Seconds(60);
    auto mirror = LineHostMirror::Create(options);
    ASSERT_TRUE(mirror.ok()) << mirror.status();
    mirrors.push_back(std::move(*mirror));
  }
  std::vector<std::thread> writers;
  for (int c = 0; c < kClients; ++c) {
    writers.emplace_back([&, c] {
      for (int i = 0; i < kLinesPerClient; ++i) {
        ASSERT_TRUE(mirrors[c]->Write(absl::StrCat(c, " ", i, "\n")).ok());
      }
    });
  }
  auto acknowledged = [&] {
    uint64_t total = 0;
    for (auto& m : mirrors) total += m->stats().records_acknowledged;
    return total;
  };
  // Kill twice: at a quarter and at half of the lines acknowledged.
  for (uint64_t threshold : {uint64_t{kClients * kLinesPerClient / 4},
                             uint64_t{kClients * kLinesPerClient / 2}}) {
    ASSERT_TRUE(WaitFor([&] { return acknowledged() >= threshold; },
                        absl::Seconds(120)));
    ASSERT_TRUE(collector->process.Kill(SIGKILL).ok());
    auto status = collector->process.Wait(absl::Seconds(10));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(status->signaled);
    collector = StartServe(address.ToString(), store);
    ASSERT_TRUE(collector.ok()) << collector.status();
  }
  for (auto& w : writers) w.join();
  for (auto& m : mirrors) {
    ASSERT_TRUE(m->Close(absl::Seconds(60)).ok());
    EXPECT_GE(m->stats().reconnects, 1u);
  }

  auto reader = LineHostReader::Connect(address, key, absl::Seconds(10));
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto records = (*reader)->ReadAll(absl::Seconds(60));
  ASSERT_TRUE(records.ok()) << records.status();
  std::vector<int> next(kClients, 0);
  int out_of_order = 0;
  for (const Record& r : *records) {
    int client = 0, index = 0;
    size_t space = r.text.find(' ');
    ASSERT_NE(space, std::string::npos) << r.text;
    ASSERT_TRUE(absl::SimpleAtoi(r.text.substr(0, space), &client));
    ASSERT_TRUE(absl::SimpleAtoi(r.text.substr(space + 1), &index));
    ASSERT_TRUE(client >= 0 && client < kClients);
    if (index != next[client]) ++out_of_order;  // a loss or a duplicate
    next[client] = index + 1;
  }
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(records->size(), static_cast<size_t>(kClients * kLinesPerClient));
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(next[c], kLinesPerClient);
  ASSERT_TRUE(collector->process.Kill(SIGTERM).ok());
  auto status = collector->process.Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success()) << status->ToString();
}

std::string ReadWholeFile(const std::string& path) {
  std::string out;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char buffer[4096];
  ssize_t n;
  while (fd.valid() && (n = ::read(fd.get(), buffer, sizeof(buffer))) > 0) {
    out.append(buffer, n);
  }
  return out;
}

size_t CountOccurrences(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

// A collector without --store, killed and restarted, lost what it held; the
// running mirror must be accepted again (not refused for a "gap" forever),
// deliver everything written after the restart, and the loss must be said
// once, in a warning record and in the collector's log.
TEST(HostKillTest, CollectorRestartedWithoutStoreAcceptsRunningMirrors) {
  ASSERT_FALSE(g_syncstream_binary.empty());
  const std::string log_file =
      absl::StrCat(getenv("TEST_TMPDIR"), "/restarted.log");
  auto collector = StartServe("tcp:127.0.0.1:0", "");
  ASSERT_TRUE(collector.ok()) << collector.status();
  const net::Address address = *net::ParseAddress(collector->address);
  const net::AuthKey key =
      *net::AuthKey::FromBytes("kill-test-key-0123456789");
  auto options = MirrorOptions(address, "survivor", key);
  options.max_reconnect_backoff = absl::Milliseconds(100);
  auto mirror = LineHostMirror::Create(options);
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((*mirror)->Write(absl::StrCat("before ", i, "\n")).ok());
    ASSERT_TRUE((*mirror)->Sync(absl::Seconds(30)).ok());  // batch per line
  }
  for (int signal : {SIGKILL, SIGTERM}) {
    ASSERT_TRUE(collector->process.Kill(signal).ok());
    ASSERT_TRUE(collector->process.Wait(absl::Seconds(10)).ok());
    collector = StartServe(address.ToString(), "", log_file);
    ASSERT_TRUE(collector.ok()) << collector.status();
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          (*mirror)->Write(absl::StrCat("after ", signal, " ", i, "\n")).ok());
    }
    absl::Status synced = (*mirror)->Sync(absl::Seconds(30));
    ASSERT_TRUE(synced.ok()) << synced << "\n" << ReadWholeFile(log_file);
    auto reader = LineHostReader::Connect(address, key, absl::Seconds(10));
    ASSERT_TRUE(reader.ok()) << reader.status();
    auto records = (*reader)->ReadAll(absl::Seconds(30));
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), 51u);
    EXPECT_TRUE((*records)[0].is_warning());
    EXPECT_EQ((*records)[0].sender, "survivor");
    EXPECT_NE((*records)[0].text.find("are lost"), std::string::npos)
        << (*records)[0].text;
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ((*records)[i + 1].text, absl::StrCat("after ", signal, " ", i));
    }
    const std::string log = ReadWholeFile(log_file);
    EXPECT_EQ(CountOccurrences(log, "are lost"), 1u) << log;
    EXPECT_EQ(CountOccurrences(log, "a gap"), 0u) << log;
  }
  ASSERT_TRUE((*mirror)->Close(absl::Seconds(30)).ok());
}

// `syncstream read -f ADDR [extra...]` with stdout and stderr in files.
absl::StatusOr<ChildProcess> StartFollower(const std::string& address,
                                           const std::string& out_file,
                                           const std::string& err_file,
                                           std::vector<std::string> extra) {
  UniqueFd out(::open(out_file.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  UniqueFd err(::open(err_file.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid() || !err.valid()) return absl::InternalError("open");
  SpawnOptions options;
  options.argv = {g_syncstream_binary, "read", address, "-f"};
  for (std::string& e : extra) options.argv.push_back(std::move(e));
  options.env = {{"SYNCSTREAM_AUTH_KEY", "kill-test-key-0123456789"}};
  options.stdout_to = FdRedirect::To(out.get());
  options.stderr_to = FdRedirect::To(err.get());
  return ChildProcess::Spawn(options);
}

std::string Lines(const std::string& prefix, int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) absl::StrAppend(&out, prefix, i, "\n");
  return out;
}

// `read -f` goes on through a collector restart: it reconnects and resumes
// after the last record it printed (a store keeps the positions: nothing is
// printed twice or left out), and on SIGTERM says where to continue with
// --after, which a second `read -f` then does.
TEST(HostKillTest, FollowerResumesAfterCollectorRestartAndWithAfter) {
  ASSERT_FALSE(g_syncstream_binary.empty());
  const std::string dir = getenv("TEST_TMPDIR");
  const std::string store = dir + "/follow-store";
  auto collector = StartServe("tcp:127.0.0.1:0", store);
  ASSERT_TRUE(collector.ok()) << collector.status();
  const net::Address address = *net::ParseAddress(collector->address);
  const net::AuthKey key =
      *net::AuthKey::FromBytes("kill-test-key-0123456789");
  auto mirror = LineHostMirror::Create(MirrorOptions(address, "w", key));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  auto write = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE((*mirror)->Write(absl::StrCat("line ", i, "\n")).ok());
    }
    ASSERT_TRUE((*mirror)->Sync(absl::Seconds(30)).ok());
  };
  write(0, 10);
  auto reader = StartFollower(collector->address, dir + "/read1.out",
                              dir + "/read1.err", {"-n", "0"});
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE(WaitFor([&] {
    return ReadWholeFile(dir + "/read1.out") == Lines("line ", 0, 10);
  })) << ReadWholeFile(dir + "/read1.out");
  ASSERT_TRUE(collector->process.Kill(SIGKILL).ok());
  ASSERT_TRUE(collector->process.Wait(absl::Seconds(10)).ok());
  collector = StartServe(address.ToString(), store);
  ASSERT_TRUE(collector.ok()) << collector.status();
  write(10, 20);
  EXPECT_TRUE(WaitFor([&] {
    return ReadWholeFile(dir + "/read1.out") == Lines("line ", 0, 20);
  })) << ReadWholeFile(dir + "/read1.out") << ReadWholeFile(dir + "/read1.err");
  ASSERT_TRUE(reader->Kill(SIGTERM).ok());
  auto exited = reader->Wait(absl::Seconds(10));
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_TRUE(exited->success()) << ReadWholeFile(dir + "/read1.err");
  const std::string err = ReadWholeFile(dir + "/read1.err");
  const std::string marker = "continue with --after ";
  const size_t at = err.find(marker);
  ASSERT_NE(at, std::string::npos) << err;
  const std::string after =
      err.substr(at + marker.size(), err.find('\n', at) - at - marker.size());

  write(20, 25);
  auto again = StartFollower(collector->address, dir + "/read2.out",
                             dir + "/read2.err", {"--after", after});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(WaitFor([&] {
    return ReadWholeFile(dir + "/read2.out") == Lines("line ", 20, 25);
  })) << ReadWholeFile(dir + "/read2.out") << ReadWholeFile(dir + "/read2.err");
  ASSERT_TRUE(again->Kill(SIGTERM).ok());
  ASSERT_TRUE(again->Wait(absl::Seconds(10)).ok());
  ASSERT_TRUE((*mirror)->Close(absl::Seconds(30)).ok());
}

// Many connections failing at once: `serve` logs each failure as one whole
// line (it used to glue and split them: std::cerr wrote each piece apart).
// Each connection comes from an address of its own (127.0.T.10+I), so that
// the per-peer log limit (10 lines per 10 s) leaves every line.
TEST(HostKillTest, ServeLogsWholeLinesWhenManyConnectionsFailAtOnce) {
  ASSERT_FALSE(g_syncstream_binary.empty());
  const std::string log_file =
      absl::StrCat(getenv("TEST_TMPDIR"), "/many-failures.log");
  auto collector = StartServe("tcp:127.0.0.1:0", "", log_file);
  ASSERT_TRUE(collector.ok()) << collector.status();
  const net::Address address = *net::ParseAddress(collector->address);
  // One frame: a ClientHello whose magic is wrong.
  const std::string frame("\x05\x0a\x03" "bad", 6);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in from{};
        from.sin_family = AF_INET;
        from.sin_addr.s_addr = htonl(0x7f000000u | (t + 1) << 8 | (10 + i));
        ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&from),
                         sizeof(from)),
                  0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(address.port);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to),
                            sizeof(to)),
                  0);
        ASSERT_EQ(::write(fd.get(), frame.data(), frame.size()),
                  static_cast<ssize_t>(frame.size()));
        char c;
        (void)!::read(fd.get(), &c, 1);  // until the collector closes it
      }
    });
  }
  for (auto& t : threads) t.join();
  constexpr size_t kLogged = kThreads * kPerThread;
  ASSERT_TRUE(WaitFor([&] {
    return CountOccurrences(ReadWholeFile(log_file), "wrong magic") >= kLogged;
  })) << ReadWholeFile(log_file);
  ASSERT_TRUE(collector->process.Kill(SIGTERM).ok());
  ASSERT_TRUE(collector->process.Wait(absl::Seconds(10)).ok());
  const std::string log = ReadWholeFile(log_file);
  const std::string prefix = "syncstream serve: ";
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    ++lines;
    EXPECT_TRUE(absl::StartsWith(line, prefix)) << line;
    EXPECT_EQ(CountOccurrences(std::string(line), prefix), 1u) << line;
  }
  EXPECT_EQ(lines, kLogged + 1) << log;  // + "stopped"
}

}  // namespace
}  // namespace syncstream

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) syncstream::g_syncstream_binary = argv[1];
  return RUN_ALL_TESTS();
}
