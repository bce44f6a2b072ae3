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

#include "absl/status/status.h"
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

  std::unique_ptr<Session> OpenSession(std::string peer);

  // Runs `request` for `session` and fills `response`. With may_block false
  // (the connection's reading thread) a call that would wait changes nothing
  // and returns false: run it again with may_block true on a thread that
  // may wait. Returns true when `response` is complete.
  bool Execute(Session& session, const proto::Request& request,
               bool may_block, proto::Response* response);

  // The client is gone: cancels its waiting calls and gives back everything
  // it held, in every object. Then, once none of its calls runs any more,
  // EndSession drops its handles.
  void CloseSession(Session& session);
  void EndSession(Session& session);

  Registry& registry() { return registry_; }

 private:
  absl::StatusOr<Value> CallManager(CallContext& ctx,
                                    const proto::Request& request,
                                    std::vector<Value>& args);
  absl::StatusOr<std::shared_ptr<ManagedObject>> Create(
      absl::string_view type, std::vector<Value> args);
  absl::Status ResolveRefs(Value& value);
  Value Objects();

  Registry registry_;
  std::atomic<uint64_t> next_session_{1};
  mutable std::mutex types_mu_;
  std::map<std::string, std::shared_ptr<const UserTypeDefinition>, std::less<>>
      types_;
};

// absl::Status <-> Response fields.
void SetStatus(const absl::Status& status, proto::Response* response);
absl::Status StatusOf(const proto::Response& response);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_DISPATCHER_H_
