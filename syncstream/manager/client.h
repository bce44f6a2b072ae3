// ManagerClient: one connection to a Manager, carrying the calls of every
// proxy made from it, from any number of threads.
//
//   SYNCSTREAM_ASSIGN_OR_RETURN(std::shared_ptr<ManagerClient> client,
//       ManagerClient::Connect("unix:/tmp/m.sock", key));
//   SYNCSTREAM_ASSIGN_OR_RETURN(Lock lock, client->GetOrCreate<Lock>("jobs"));
//   SYNCSTREAM_RETURN_IF_ERROR(lock.Acquire(absl::Seconds(5)));
//   ...
//   lock.Release();
//
// Objects: Create<P>(args) makes an anonymous object (alive while some client
// or container holds it), GetOrCreate<P>(name, args) finds or makes a named
// one (alive until Delete(name) or the manager stops), Get<P>(name) finds
// one, Attach<P>(id) takes an object whose id another process passed on.
// Proxies are cheap to copy; the last copy of a client's proxy lets the
// object go.
//
// Request ids: every call carries an id and its reply is matched by it, so a
// call that timed out on the client side (or whose thread gave up) can never
// hand its late reply to the next call. A client that gives up on a waiting
// call tells the manager to cancel it; an acquire granted just before that
// arrived is released again.
//
// Posted calls: calls that cannot wait and return nothing (Lock::Release,
// Dict::Set, List::Append, Event::Set, Condition::Notify, ...) are sent
// without waiting for a reply; the connection keeps them in order with the
// client's later calls. If one fails (releasing a lock nobody holds), the
// error is returned by Sync() (which waits for every earlier call), or else
// by a later call on the same object once the error reply has arrived.
//
// Deferred releases: Lock::Release, RLock::Release and Condition::Release
// are posted calls that do not even get a write of their own: they travel
// with the client's next call (one write, one wake-up of the manager for
// both, so `release(); acquire();` costs one round trip), or, if the client
// makes no call, are written by the client's flusher thread after at most
// `release_delay`. Order is kept: every call is written after the releases
// before it. A client that dies with a release still unwritten loses
// nothing: the manager releases whatever a dead client held.
//
// Failures: when the manager dies or the connection breaks, every call in
// progress and every later call returns Unavailable at once. Calls that do
// not wait give up after `reply_timeout` (a hung manager), calls that wait
// after their own timeout plus `reply_timeout`.
//
// Threads: thread-safe. Owners of RLocks and Condition locks are (client,
// calling thread).
//
// Processes: a client belongs to the process that connected it. In a forked
// child every call on it (and on its proxies) returns FailedPrecondition at
// once, without touching the connection, which stays the parent's; dropping
// the child's copies sends nothing and leaves the parent's connection open.
// Connect again in the child.
#ifndef SYNCSTREAM_MANAGER_CLIENT_H_
#define SYNCSTREAM_MANAGER_CLIENT_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/manager/internal/spin_receive.h"
#include "syncstream/manager/manager.pb.h"
#include "syncstream/manager/value.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"
#include "syncstream/net/connection.h"

namespace syncstream::manager {

class UserProxy;

struct ClientOptions {
  absl::Duration connect_timeout = absl::Seconds(10);
  // See "Failures" above.
  absl::Duration reply_timeout = absl::Seconds(30);
  size_t max_frame_bytes = 16 << 20;
  // See "Deferred releases" above; ZeroDuration() writes releases at once.
  absl::Duration release_delay = absl::Microseconds(200);
  // How long a call busy-polls for its reply before it sleeps, while this
  // client's replies recently came within this time (see
  // internal/spin_receive.h). ZeroDuration() never spins.
  absl::Duration spin_limit = absl::Microseconds(50);
};

// How a call waits for its reply.
enum class CallMode {
  kReply,   // a reply is awaited (reply_timeout, or timeout + reply_timeout)
  kPosted,  // sent without waiting; see "Posted calls"
  // Posted, and written with the next call or within release_delay; see
  // "Deferred releases". Only for calls whose loss with a dying client is
  // harmless (releases of what the manager gives back anyway).
  kDeferred,
};

class ManagerClient : public std::enable_shared_from_this<ManagerClient> {
 public:
  static absl::StatusOr<std::shared_ptr<ManagerClient>> Connect(
      const net::Address& address, net::AuthKey key,
      ClientOptions options = {});
  // `address` in text form ("unix:/path", "tcp:host:port", "host:port").
  static absl::StatusOr<std::shared_ptr<ManagerClient>> Connect(
      absl::string_view address, net::AuthKey key, ClientOptions options = {});

  ~ManagerClient();
  ManagerClient(const ManagerClient&) = delete;
  ManagerClient& operator=(const ManagerClient&) = delete;

  template <typename P>
  absl::StatusOr<P> Create(std::vector<Value> args = {});
  template <typename P>
  absl::StatusOr<P> GetOrCreate(const std::string& name,
                                std::vector<Value> args = {});
  template <typename P>
  absl::StatusOr<P> Get(const std::string& name);
  template <typename P>
  absl::StatusOr<P> Attach(uint64_t object_id);
  // A proxy for a reference found in a value (a nested container).
  template <typename P>
  absl::StatusOr<P> FromRef(const Value& ref);
  // The same for objects of a registered user type (user_type.h).
  absl::StatusOr<UserProxy> CreateUser(const std::string& type,
                                       std::vector<Value> args = {});
  absl::StatusOr<UserProxy> GetOrCreateUser(const std::string& name,
                                            const std::string& type,
                                            std::vector<Value> args = {});
  // (The templates are defined in proxies.h, with the proxy types.)

  // Removes a name (the object lives on while held).
  absl::Status Delete(const std::string& name);
  // One round trip: returns the first unreported error of a posted call.
  absl::Status Sync();
  // What `syncstream manager ls` shows, one dict per object (id, type, name,
  // references, holders, waiters, state), handed to `fn` in id order. The
  // listing travels in pages of at most half of max_frame_bytes, so any
  // number of objects can be listed; objects made or dropped meanwhile may
  // or may not appear. Stops at the first error, fn's included.
  absl::Status ForEachObject(absl::FunctionRef<absl::Status(const Value&)> fn);
  // Every object in one list (ForEachObject).
  absl::StatusOr<Value> ListObjects();

  // The generic call every proxy uses. `timeout` bounds how long a waiting
  // method may wait on the manager (InfiniteDuration: forever).
  absl::StatusOr<Value> Call(uint64_t object_id, absl::string_view method,
                             std::vector<Value> args, absl::Duration timeout,
                             CallMode mode = CallMode::kReply);
  absl::StatusOr<Value> Call(uint64_t object_id, absl::string_view method,
                             std::vector<Value> args, CallMode mode) {
    return Call(object_id, method, std::move(args), absl::ZeroDuration(), mode);
  }

  // Closes the connection: later calls are Unavailable; the manager releases
  // what this client held. Does nothing in a forked child (see Processes).
  void Close();

  const std::string& address() const { return address_; }

 private:
  struct PendingCall;
  ManagerClient(std::unique_ptr<net::Connection> connection,
                std::string address, ClientOptions options);

  // A manager call returning a reference, checked to be of `want_type`
  // (any type when empty).
  absl::StatusOr<ObjectRef> ManagerCall(absl::string_view method,
                                        std::vector<Value> args,
                                        absl::string_view want_type);
  // Gives each reference in `value` a handle releasing it when dropped.
  void AdoptReferences(Value& value);
  // The deleter of every client: deletes it, or in a forked child only
  // closes its copy of the socket (see client.cc).
  static void Destroy(ManagerClient* client);
  // Whether this process is the one that connected (not a forked child).
  bool InOwnerProcess() const;
  // FailedPrecondition for `method` called in a forked child.
  absl::Status ForkedChildError(absl::string_view method) const;
  // With mu_ held: a reply arrived.
  void DeliverLocked(proto::Response& response);
  void PostRelease(uint64_t object_id);
  // Writes a posted call now, or buffers it (`defer`) for the flusher.
  absl::Status Post(proto::Request& request, bool defer = false);
  // The flusher thread: while the client defers releases, it wakes every
  // release_delay and writes what no call took along; after two idle
  // periods it sleeps until the next deferred release.
  void FlushDeferred();
  void StopFlusher();
  friend class ClientHandle;

  const std::unique_ptr<net::Connection> connection_;
  const std::string address_;
  const ClientOptions options_;
  const pid_t owner_pid_;  // the process that connected
  std::atomic<uint64_t> next_request_id_{1};

  std::mutex mu_;
  std::condition_variable cv_;
  bool reading_ = false;  // a caller is receiving for everyone
  // Used by the caller that is reading (reading_ hands it over under mu_).
  internal::SpinPolicy spin_;
  absl::Status broken_;   // set once the connection failed
  std::unordered_map<uint64_t, PendingCall*> pending_;
  // Acquire calls given up on: a late success is released again.
  struct Abandoned {
    uint64_t object_id;
    uint64_t thread_id;
  };
  std::unordered_map<uint64_t, Abandoned> abandoned_;
  std::unordered_map<uint64_t, absl::Status> deferred_errors_;  // by object

  // The flusher (started by the first deferred release).
  std::once_flag flusher_started_;
  std::thread flusher_;
  std::mutex flusher_mu_;
  std::condition_variable flusher_cv_;
  bool flusher_stop_ = false;                    // guarded by flusher_mu_
  std::atomic<bool> flusher_asleep_{false};      // waits for a notify
  std::atomic<bool> deferred_since_check_{false};
};

}  // namespace syncstream::manager

#endif  // SYNCSTREAM_MANAGER_CLIENT_H_
