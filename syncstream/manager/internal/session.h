// Session: the server's view of one connected client. Owners of locks are
// (session id, client thread id) pairs; when the connection dies the session
// is closed, which cancels its blocked calls, and the manager releases what
// it held in every object.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_SESSION_H_
#define SYNCSTREAM_MANAGER_INTERNAL_SESSION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace syncstream::manager::internal {

class ManagedObject;

// Who holds a lock: a client connection and a thread within it.
struct Owner {
  uint64_t session = 0;  // 0: nobody
  uint64_t thread = 0;
  bool valid() const { return session != 0; }
  friend bool operator==(const Owner& a, const Owner& b) {
    return a.session == b.session && a.thread == b.thread;
  }
  friend bool operator!=(const Owner& a, const Owner& b) { return !(a == b); }
};

class Session {
 public:
  Session(uint64_t id, std::string peer) : id_(id), peer_(std::move(peer)) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }

  // Set once the connection is gone: every blocked call of this session
  // returns Cancelled, and no new lock or permit is granted to it.
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  void Close() { closed_.store(true, std::memory_order_release); }

  // The objects this client may use, with how many references it holds.
  // AddHandle returns true when `id` was not held before.
  bool AddHandle(uint64_t id, std::shared_ptr<ManagedObject> object);
  // Drops one reference; false when the client held none.
  bool DropHandle(uint64_t id);
  std::shared_ptr<ManagedObject> FindHandle(uint64_t id) const;
  // Removes every handle, returning each object id once per reference.
  std::vector<uint64_t> TakeAllHandles();

  // Calls that may be waiting right now, so that the client can cancel one
  // ("cancel" request) when it gave up on it.
  void BeginCall(uint64_t request_id, std::shared_ptr<ManagedObject> object,
                 std::atomic<bool>* cancelled);
  void EndCall(uint64_t request_id);
  // Marks the call cancelled and returns its object (to wake), or null.
  std::shared_ptr<ManagedObject> CancelCall(uint64_t request_id);
  // The objects of every call in progress.
  std::vector<std::shared_ptr<ManagedObject>> CallObjects() const;

 private:
  struct Handle {
    std::shared_ptr<ManagedObject> object;
    int64_t count = 0;
  };
  const uint64_t id_;
  const std::string peer_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Handle> handles_;
  struct InFlight {
    std::shared_ptr<ManagedObject> object;
    std::atomic<bool>* cancelled;
  };
  std::unordered_map<uint64_t, InFlight> calls_;
};

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_SESSION_H_
