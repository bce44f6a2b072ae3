#include "syncstream/queue/testing/queue_test_util.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "syncstream/queue/internal/layout.h"
#include "syncstream/queue/sync_queue.h"
#include "syncstream/core/deadline.h"

extern char** environ;

namespace syncstream::queue_testing {

std::string UniqueQueueName(const std::string& tag) {
  std::random_device rd;
  return absl::StrCat("t", ::getpid(), "-", rd() % 1000000, "-", tag);
}

pid_t ForkRun(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int code = 99;
    code = body();
    std::fflush(nullptr);
    ::_exit(code);
  }
  return pid;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const std::string& e : env) env_strings.push_back(e);
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), envp.data()) != 0) return -1;
  return pid;
}

absl::StatusOr<int> WaitForExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = ::syncstream::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    } else if (r < 0) {
      return absl::InternalError(absl::StrCat("waitpid ", pid, " failed"));
    }
    if (::syncstream::Now() >= deadline) {
      KillAndReap(pid);
      return absl::DeadlineExceededError(absl::StrCat("child ", pid, " did not exit"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

absl::Status WaitForStop(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = ::syncstream::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG | WUNTRACED);
    if (r == pid && WIFSTOPPED(status)) return absl::OkStatus();
    if (r == pid) return absl::InternalError("child exited instead of stopping");
    if (::syncstream::Now() >= deadline) return absl::DeadlineExceededError("child did not stop");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

absl::Status WaitForSleep(pid_t pid, absl::Duration timeout) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  int sleeping_polls = 0;
  bool ok = WaitUntil(
      [&] {
        std::ifstream in(path);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        size_t close = text.rfind(')');
        if (close == std::string::npos || close + 2 >= text.size()) return false;
        // Several polls in a row: not a passing page fault.
        sleeping_polls = text[close + 2] == 'S' ? sleeping_polls + 1 : 0;
        return sleeping_polls >= 5;
      },
      timeout);
  return ok ? absl::OkStatus() : absl::DeadlineExceededError("child never slept");
}

void KillAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
}

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = ::syncstream::Now() + timeout;
  while (!condition()) {
    if (::syncstream::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::string HostileBodies::Next() {
  // 7 sizes: 25 frames fill a lap of 4096, so 5 would repeat each lap's layout.
  const size_t words = 12 + index_ % 7;
  constexpr size_t kSenderLength = sizeof(kSender) - 1;
  constexpr size_t kTypeLength = sizeof(kType) - 1;
  static_assert((kSenderLength + kTypeLength) % 8 == 0, "the body's words must be 8-aligned");
  const size_t frame = queue_internal::FrameSize(kSenderLength, kTypeLength, words * 8);
  const uint64_t room = capacity_ - position_ % capacity_;
  if (room < frame) position_ += room;  // padding to the lap's end
  std::string body(words * 8, '\0');
  std::memcpy(&body[0], &index_, 8);
  const uint64_t first =
      position_ + queue_internal::kFrameHeaderSize + kSenderLength + kTypeLength;
  for (size_t k = 1; k < words; ++k) {
    const uint64_t at = first + 8 * k;  // in the ring, a lap before a frame
    const uint64_t word = queue_internal::MakeFrameWord(
        queue_internal::kFrameCommitted, 1u << 20, static_cast<uint32_t>(at / capacity_ + 1));
    std::memcpy(&body[8 * k], &word, 8);
  }
  position_ += frame;
  ++index_;
  return body;
}

int RunHostileWriter(const std::string& queue, int count) {
  auto q = SyncQueue::Open(queue);
  if (!q.ok()) {
    std::cerr << "hostile writer: " << q.status() << "\n";
    return 2;
  }
  auto me = q->Attach(HostileBodies::kSender, QueueRole::kWriter);
  if (!me.ok()) {
    std::cerr << "hostile writer: " << me.status() << "\n";
    return 3;
  }
  HostileBodies bodies(q->capacity_bytes());
  for (int i = 0; i < count; ++i) {
    absl::Status st = me->Append(HostileBodies::kType, bodies.Next(),
                                 AppendOptions{.block = true, .timeout = absl::Seconds(20)});
    if (!st.ok()) {
      std::cerr << "hostile writer, message " << i << ": " << st << "\n";
      return 4;
    }
  }
  return me->Close(CloseOptions{.keep = true}).ok() ? 0 : 5;
}

int RunWriter(const std::string& queue, const std::string& name, int count) {
  auto q = SyncQueue::Open(queue);
  if (!q.ok()) {
    std::cerr << "writer " << name << ": " << q.status() << "\n";
    return 2;
  }
  auto me = q->Attach(name, QueueRole::kWriter);
  if (!me.ok()) {
    std::cerr << "writer " << name << ": " << me.status() << "\n";
    return 3;
  }
  for (int i = 0; i < count; ++i) {
    absl::Status st = me->Append("n", absl::StrCat(name, ":", i),
                                 AppendOptions{.block = true, .timeout = absl::Seconds(20)});
    if (!st.ok()) {
      std::cerr << "writer " << name << " message " << i << ": " << st << "\n";
      return 4;
    }
  }
  return me->Close(CloseOptions{.keep = true}).ok() ? 0 : 5;
}

int RunReader(const std::string& queue, const std::string& name,
              const std::vector<std::string>& writers, int count) {
  auto q = SyncQueue::Open(queue);
  if (!q.ok()) {
    std::cerr << "reader " << name << ": " << q.status() << "\n";
    return 2;
  }
  auto me = q->Attach(name, QueueRole::kReader);
  if (!me.ok()) {
    std::cerr << "reader " << name << ": " << me.status() << "\n";
    return 3;
  }
  std::map<std::string, int> next;
  for (const std::string& w : writers) next[w] = 0;
  const long total = static_cast<long>(writers.size()) * count;
  long received = 0;
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(40);
  QueueMessage m;
  while (received < total) {
    if (::syncstream::Now() > deadline) {
      std::cerr << "reader " << name << ": only " << received << " of " << total << "\n";
      return 4;
    }
    auto got = me->PopInto(&m, PopOptions{.timeout = absl::Seconds(1)});
    if (!got.ok()) {
      std::cerr << "reader " << name << ": " << got.status() << "\n";
      return 5;
    }
    if (!*got) continue;
    std::vector<std::string> parts = absl::StrSplit(m.body, ':');
    int index = -1;
    if (parts.size() != 2 || parts[0] != m.sender || !absl::SimpleAtoi(parts[1], &index) ||
        next.count(m.sender) == 0 || next[m.sender] != index) {
      std::cerr << "reader " << name << ": unexpected '" << m.body << "' from '" << m.sender
                << "' (expected index " << next[m.sender] << ")\n";
      return 6;
    }
    next[m.sender]++;
    received++;
  }
  return me->Close(CloseOptions{.keep = true}).ok() ? 0 : 7;
}

}  // namespace syncstream::queue_testing
