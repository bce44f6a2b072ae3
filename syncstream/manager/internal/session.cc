#include "syncstream/manager/internal/session.h"

namespace syncstream::manager::internal {

bool Session::AddHandle(uint64_t id, std::shared_ptr<ManagedObject> object) {
  std::lock_guard<std::mutex> lock(mu_);
  Handle& handle = handles_[id];
  if (handle.count++ == 0) {
    handle.object = std::move(object);
    return true;
  }
  return false;
}

bool Session::DropHandle(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = handles_.find(id);
  if (it == handles_.end()) return false;
  if (--it->second.count == 0) handles_.erase(it);
  return true;
}

std::shared_ptr<ManagedObject> Session::FindHandle(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = handles_.find(id);
  return it == handles_.end() ? nullptr : it->second.object;
}

std::vector<uint64_t> Session::TakeAllHandles() {
  std::unordered_map<uint64_t, Handle> handles;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handles.swap(handles_);
  }
  std::vector<uint64_t> ids;
  for (const auto& [id, handle] : handles) {
    for (int64_t i = 0; i < handle.count; ++i) ids.push_back(id);
  }
  return ids;
}

void Session::BeginCall(uint64_t request_id,
                        std::shared_ptr<ManagedObject> object,
                        std::atomic<bool>* cancelled) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_[request_id] = InFlight{std::move(object), cancelled};
}

void Session::EndCall(uint64_t request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.erase(request_id);
}

std::shared_ptr<ManagedObject> Session::CancelCall(uint64_t request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = calls_.find(request_id);
  if (it == calls_.end()) return nullptr;
  it->second.cancelled->store(true, std::memory_order_release);
  return it->second.object;
}

std::vector<std::shared_ptr<ManagedObject>> Session::CallObjects() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<ManagedObject>> objects;
  for (const auto& [id, call] : calls_) objects.push_back(call.object);
  return objects;
}

}  // namespace syncstream::manager::internal
