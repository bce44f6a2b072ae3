// Manager: a server hosting shared objects (locks, RLocks, semaphores,
// events, conditions, barriers, queues, lists, dicts, values, namespaces and
// registered user types) for many processes, which reach them through
// ManagerClient and typed proxies (client.h, proxies.h).
//
//   ManagerOptions options;
//   SYNCSTREAM_ASSIGN_OR_RETURN(options.key, net::AuthKey::Load(key_file));
//   SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<Manager> manager,
//       Manager::Start(*net::ParseAddress("unix:/tmp/m.sock"), options));
//   ... clients connect to manager->address() ...
//   manager->Stop();   // or destroy it
//
// It runs in threads of the calling process, or as its own process with
// `syncstream manager serve --listen ADDR [--auth-key-file F]`. Addresses,
// keys and the refusal to listen off loopback without a key are those of
// syncstream/net/ (service name "manager").
//
// Threads: one per client connection reads requests and runs each call that
// can finish at once (the common case: an uncontended acquire, a dict get)
// and answers. A call that has to wait and can be retried (a contended
// acquire, a get from an empty queue) is parked on its object and answered
// by the thread that changes the object's state (internal/parking.h); other
// waiting calls (Condition::Wait, Barrier::Wait, a contended
// Condition::Acquire) move to a worker thread of that connection. Either way the client's other threads keep going.
//
// Clients that die: when a connection ends (crash, SIGKILL, network loss)
// its waiting calls are cancelled and everything it held is given back:
// locks, RLock counts, semaphore permits it acquired that nobody released,
// the Condition lock; it leaves the waiters of Conditions and Barriers.
// Its handles are dropped, so anonymous objects only it held die.
#ifndef SYNCSTREAM_MANAGER_MANAGER_H_
#define SYNCSTREAM_MANAGER_MANAGER_H_

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/manager/user_type.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"

namespace syncstream::manager {

inline constexpr char kManagerService[] = "manager";

struct ManagerOptions {
  // Shared key clients must prove (empty: none; Unix and loopback only).
  net::AuthKey key;
  // Largest request or reply frame.
  size_t max_frame_bytes = 16 << 20;
  // Calls one client may have waiting at the same time.
  int max_waiting_calls_per_client = 1024;
  // How long a connection's thread busy-polls for the client's next request
  // after answering one, before it sleeps (internal/spin_receive.h): only
  // while that client's requests recently came within this time, and on at
  // most half the cores at once. ZeroDuration() never spins.
  absl::Duration spin_limit = absl::Microseconds(50);
};

namespace internal {
class ManagerServer;
}

class Manager {
 public:
  // Listens on `address` and serves until Stop(). Errors as
  // net::Listener::Listen.
  static absl::StatusOr<std::unique_ptr<Manager>> Start(
      const net::Address& address, ManagerOptions options);

  // Stops serving (as Stop()).
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Makes `type` creatable by clients. AlreadyExists for a built-in or
  // registered name.
  absl::Status RegisterType(const UserTypeDefinition& type);

  // Where it listens (with the bound port when port 0 was asked for).
  const net::Address& address() const;

  // Closes the listener and every connection, cancels waiting calls and
  // waits for the server's threads. Clients see Unavailable. Idempotent.
  void Stop();

 private:
  explicit Manager(std::unique_ptr<internal::ManagerServer> server);
  std::unique_ptr<internal::ManagerServer> server_;
};

}  // namespace syncstream::manager

#endif  // SYNCSTREAM_MANAGER_MANAGER_H_
