// Dispatcher: runs a decoded manager request for a client session, with no
// knowledge of sockets (the server's connections feed it; tests call it
// directly).
//
// Object 0 is the manager itself:
//   create(type, args...)              -> ref   an anonymous object
//   get_or_create(name, type, args...) -> ref   a named object
//   get(name) -> ref;  attach(id) -> ref;  delete(name);  release(id)
//   cancel(request_id);  ping();  types() -> [names];  objects() -> [dicts]
// Every reference a reply carries is a handle the client now holds (released
// with `release`, or when its session ends).
#ifndef SYNCSTREAM_MANAGER_INTERNAL_DISPATCHER_H_
#define SYNCSTREAM_MANAGER_INTERNAL_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "syncstream/manager/internal/parking.h"
#include "syncstream/manager/internal/registry.h"
#include "syncstream/manager/internal/session.h"
#include "syncstream/manager/manager.pb.h"
#include "syncstream/manager/user_type.h"

namespace syncstream::manager::internal {

class Dispatcher {
 public:
  Dispatcher() = default;
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // AlreadyExists for a built-in or already registered name.
  absl::Status RegisterType(const UserTypeDefinition& type);

  std::shared_ptr<Session> OpenSession(std::string peer);

  enum class Outcome {
    kDone,         // `response` is complete: send it
    kParked,       // parked; its reply goes to the sink later
    kNeedsThread,  // nothing changed: run it again with may_block = true
  };

  // Runs `request` for `session` and fills `response`. With may_block false
  // (the connection's reading thread) a call never waits: a call that would
  // is parked when it can be retried from scratch and `sink` is given
  // (parking.h), else changes nothing and needs a thread that may wait.
  // A call that completes retries the calls parked on its object, at once,
  // or, when `deferred_kicks` is given, when the caller passes the list to
  // Kick() (a connection does so once it has run every request it had
  // buffered: a client's release followed by its next acquire then takes
  // the lock again without a hand-off, as with Python's locks).
  Outcome Execute(const std::shared_ptr<Session>& session,
                  const proto::Request& request, bool may_block,
                  proto::Response* response,
                  const std::shared_ptr<ReplySink>& sink = nullptr,
                  std::vector<std::shared_ptr<ManagedObject>>* deferred_kicks =
                      nullptr);
  // Retries the calls parked on these objects, answering those that
  // complete; clears the list.
  void Kick(std::vector<std::shared_ptr<ManagedObject>>* objects);

  // The client is gone: cancels its waiting calls and gives back everything
  // it held, in every object. Then, once none of its calls runs any more,
  // EndSession drops its handles.
  void CloseSession(Session& session);
  void EndSession(Session& session);

  Registry& registry() { return registry_; }

 private:
  // Execute with an explicit deadline; `park` allows parking.
  Outcome Run(const std::shared_ptr<Session>& session,
              const proto::Request& request, absl::Time deadline,
              bool may_block, const CallContext::ParkRequest* park,
              proto::Response* response,
              std::shared_ptr<ManagedObject>* object_used);
  void Kick(const std::shared_ptr<ManagedObject>& object);
  void Expire(const std::shared_ptr<ParkedCall>& call);
  absl::StatusOr<Value> CallManager(CallContext& ctx,
                                    const proto::Request& request,
                                    std::vector<Value>& args);
  absl::StatusOr<std::shared_ptr<ManagedObject>> Create(
      absl::string_view type, std::vector<Value> args);
  absl::Status ResolveRefs(Value& value);
  // "objects" [AFTER_ID [MAX_BYTES]]: a page of the listing (see
  // dispatcher.cc).
  absl::StatusOr<Value> Objects(const std::vector<Value>& args);

  Registry registry_;
  std::atomic<uint64_t> next_session_{1};
  mutable std::mutex types_mu_;
  std::map<std::string, std::shared_ptr<const UserTypeDefinition>, std::less<>>
      types_;
  // Last: its thread calls Expire.
  ParkingTimer timer_{[this](const std::shared_ptr<ParkedCall>& call) {
    Expire(call);
  }};
};

// absl::Status <-> Response fields.
void SetStatus(const absl::Status& status, proto::Response* response);
absl::Status StatusOf(const proto::Response& response);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_DISPATCHER_H_
