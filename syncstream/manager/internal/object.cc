#include "syncstream/manager/internal/object.h"

#include "absl/strings/str_cat.h"

namespace syncstream::manager::internal {

std::string OwnerName(const Owner& owner) {
  return absl::StrCat("client ", owner.session, " thread ", owner.thread);
}

absl::Status CheckArgs(const ManagedObject& object, absl::string_view method,
                       const std::vector<Value>& args, size_t min,
                       size_t max) {
  if (args.size() >= min && args.size() <= max) return absl::OkStatus();
  std::string wanted = min == max ? absl::StrCat(min)
                                  : absl::StrCat(min, " to ", max);
  return absl::InvalidArgumentError(
      absl::StrCat(object.label(), ": ", method, " takes ", wanted,
                   " argument(s), got ", args.size()));
}

void ManagedObject::Park(CallContext& ctx) {
  std::shared_ptr<ParkedCall> call = ctx.park->existing;
  if (call == nullptr) {
    call = std::make_shared<ParkedCall>();
    call->session = *ctx.park->session;
    call->request = *ctx.park->request;
    call->deadline = ctx.deadline;
    call->parked_at = ::syncstream::Now();
    call->sink = *ctx.park->sink;
    call->object = weak_from_this();
  }
  parked_.push_back(call);
  parked_count_.fetch_add(1, std::memory_order_release);
  ctx.parked = std::move(call);
}

std::vector<std::shared_ptr<ParkedCall>> ManagedObject::TakeParked() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<ParkedCall>> calls(
      std::make_move_iterator(parked_.begin()),
      std::make_move_iterator(parked_.end()));
  parked_.clear();
  parked_count_.store(0, std::memory_order_release);
  return calls;
}

void ManagedObject::ParkAgain(std::shared_ptr<ParkedCall> call) {
  std::lock_guard<std::mutex> lock(mu_);
  parked_.push_back(std::move(call));
  parked_count_.fetch_add(1, std::memory_order_release);
}

bool ManagedObject::RemoveParked(const ParkedCall* call) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = parked_.begin(); it != parked_.end(); ++it) {
    if (it->get() == call) {
      parked_.erase(it);
      parked_count_.fetch_sub(1, std::memory_order_release);
      return true;
    }
  }
  return false;
}

std::vector<std::shared_ptr<ParkedCall>> ManagedObject::RemoveParkedOf(
    uint64_t session, uint64_t request_id) {
  std::vector<std::shared_ptr<ParkedCall>> removed;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = parked_.begin(); it != parked_.end();) {
    if ((*it)->session->id() == session &&
        (request_id == 0 || (*it)->request.request_id() == request_id)) {
      removed.push_back(std::move(*it));
      it = parked_.erase(it);
      parked_count_.fetch_sub(1, std::memory_order_release);
    } else {
      ++it;
    }
  }
  return removed;
}

}  // namespace syncstream::manager::internal
