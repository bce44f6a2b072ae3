#include "syncstream/manager/internal/parking.h"

#include <utility>

#include "absl/time/clock.h"
#include "syncstream/core/deadline.h"

namespace syncstream::manager::internal {

ParkingTimer::ParkingTimer(
    std::function<void(const std::shared_ptr<ParkedCall>&)> expire)
    : expire_(std::move(expire)), thread_([this] { Run(); }) {}

ParkingTimer::~ParkingTimer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ParkingTimer::Add(const std::shared_ptr<ParkedCall>& call) {
  if (call->deadline == absl::InfiniteFuture()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (call->timed) return;
  const bool earliest =
      entries_.empty() || call->deadline < entries_.begin()->first;
  call->timer_entry = entries_.emplace(call->deadline, call);
  call->timed = true;
  if (earliest) cv_.notify_all();
}

void ParkingTimer::Remove(ParkedCall* call) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!call->timed) return;
  entries_.erase(call->timer_entry);
  call->timed = false;
}

void ParkingTimer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (entries_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const absl::Time next = entries_.begin()->first;
    if (::syncstream::Now() < next) {
      cv_.wait_until(lock, absl::ToChronoTime(next));
      continue;
    }
    std::shared_ptr<ParkedCall> call = entries_.begin()->second.lock();
    if (call != nullptr) call->timed = false;
    entries_.erase(entries_.begin());
    if (call == nullptr) continue;
    lock.unlock();
    expire_(call);
    call.reset();
    lock.lock();
  }
}

}  // namespace syncstream::manager::internal
