#include "syncstream/core/spin_wait.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "syncstream/core/unique_fd.h"

namespace syncstream {
namespace {

// How long one preempted spinner keeps the process from spinning.
constexpr int64_t kQuietAfterPreemptionNs = 20'000'000;
// How often /proc/loadavg is re-read.
constexpr int64_t kLoadCheckEveryNs = 5'000'000;

std::atomic<int64_t> preempted_at_ns{INT64_MIN / 2};

int Cores() {
  static const int cores =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return cores;
}

// The runnable threads of the machine; -1 if unknown.
int RunnableThreads() {
  UniqueFd fd(::open("/proc/loadavg", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return -1;
  char buf[128];
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  if (n <= 0) return -1;
  return ParseRunnableThreads(absl::string_view(buf, static_cast<size_t>(n)));
}

}  // namespace

SpinPolicy::SpinPolicy(absl::Duration limit)
    : limit_ns_(std::max<int64_t>(0, absl::ToInt64Nanoseconds(limit))) {}

absl::Duration SpinPolicy::NextSpin() {
  if (limit_ns_ == 0 || average_ns_ > limit_ns_) return absl::ZeroDuration();
  if (skip_ > 0) {
    --skip_;
    return absl::ZeroDuration();
  }
  return absl::Nanoseconds(limit_ns_);
}

void SpinPolicy::Record(absl::Duration waited, absl::Duration spin,
                        bool spin_failed) {
  if (limit_ns_ == 0) return;
  // Capped, so that one very long wait (an idle minute) is forgotten after
  // a few short ones.
  const int64_t ns = std::min<int64_t>(absl::ToInt64Nanoseconds(waited),
                                       16 * limit_ns_);
  average_ns_ = (3 * average_ns_ + std::max<int64_t>(ns, 0)) / 4;
  if (spin <= absl::ZeroDuration()) return;
  if (spin_failed) {
    backoff_level_ = std::min(backoff_level_ + 1, 10);
    skip_ = int64_t{1} << backoff_level_;
  } else {
    backoff_level_ = 0;
  }
}

int ParseRunnableThreads(absl::string_view loadavg) {
  // Skip three load averages; the count before '/' follows.
  for (int field = 0; field < 3; ++field) {
    const size_t space = loadavg.find(' ');
    if (space == absl::string_view::npos) return -1;
    loadavg.remove_prefix(space + 1);
  }
  const size_t slash = loadavg.find('/');
  if (slash == absl::string_view::npos || slash == 0 || slash > 9) return -1;
  int running = 0;
  for (char c : loadavg.substr(0, slash)) {
    if (c < '0' || c > '9') return -1;
    running = running * 10 + (c - '0');
  }
  return running;
}

void NoteSpinnerPreempted() {
  preempted_at_ns.store(spin_wait_internal::MonotonicNs(),
                        std::memory_order_relaxed);
}

bool MachineHasIdleCores() {
  static std::atomic<int64_t> next_check_ns{0};
  static std::atomic<bool> idle_cores{false};
  const int64_t now_ns = spin_wait_internal::MonotonicNs();
  if (now_ns - preempted_at_ns.load(std::memory_order_relaxed) <
      kQuietAfterPreemptionNs) {
    return false;
  }
  int64_t next = next_check_ns.load(std::memory_order_relaxed);
  // One thread re-reads; the others use the last answer meanwhile.
  if (now_ns >= next &&
      next_check_ns.compare_exchange_strong(
          next, now_ns + kLoadCheckEveryNs, std::memory_order_relaxed)) {
    const int running = RunnableThreads();
    idle_cores.store(running >= 0 && running <= Cores(),
                     std::memory_order_relaxed);
  }
  return idle_cores.load(std::memory_order_relaxed);
}

bool SpinGate::Enter() {
  if (!MachineHasIdleCores()) return false;
  if (spinners_.fetch_add(1, std::memory_order_relaxed) < max_) return true;
  spinners_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

int SpinGate::DefaultMax() { return std::max(1, Cores() / 2); }

SpinGate& SpinGate::Default() {
  static SpinGate* const gate = new SpinGate(DefaultMax());
  return *gate;
}

}  // namespace syncstream
