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
  call->timer_entry = entries_.emplace(call->deadline, call);
  call->timed = true;
  // The thread is woken only when it would sleep past this deadline: most
  // calls are answered long before theirs, so a steady stream of parked
  // calls costs the timer no wake-up (it wakes at worst once per deadline).
  if (call->deadline < wake_at_) {
    wake_at_ = call->deadline;
    cv_.notify_all();
  }
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
      wake_at_ = absl::InfiniteFuture();
      cv_.wait(lock);
      continue;
    }
    const absl::Time next = entries_.begin()->first;
    if (::syncstream::Now() < next) {
      wake_at_ = next;
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
