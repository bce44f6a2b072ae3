// Typed proxies for the objects a Manager hosts. Each method is one call on
// the client's connection (client.h); methods marked "posted" do not wait for
// a reply (see "Posted calls" in client.h), those marked "deferred" do not
// even write at once (see "Deferred releases" there). Methods that may wait take a
// timeout (absl::InfiniteDuration() = forever, ZeroDuration() = do not wait)
// and return DeadlineExceeded when it passes. Semantics follow Python's
// threading, queue, list and dict types; errors are absl::Status codes:
//   FailedPrecondition  releasing a lock not held, a broken barrier,
//                       task_done without a pending task
//   OutOfRange          a list index outside the list
//   NotFound            a missing dict key or list item
//   InvalidArgument     a value of the wrong kind
//   Unavailable         the manager is gone
//
// A proxy is a cheap handle (copyable); id() names the object so another
// process can ManagerClient::Attach<P>(id) to it.
#ifndef SYNCSTREAM_MANAGER_PROXIES_H_
#define SYNCSTREAM_MANAGER_PROXIES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "syncstream/manager/client.h"
#include "syncstream/manager/method_names.h"
#include "syncstream/manager/value.h"

namespace syncstream::manager {

// Thread safety: may be used, and copied, from any thread at once. Its calls
// go through its ManagerClient, which is thread-safe.
class ObjectProxy {
 public:
  ObjectProxy(std::shared_ptr<ManagerClient> client, ObjectRef ref)
      : client_(std::move(client)), ref_(std::move(ref)) {}

  uint64_t id() const { return ref_.object_id; }
  const std::string& type() const { return ref_.type; }
  // A value referring to this object, to store in a container.
  Value ref() const { return Value(ref_); }
  ManagerClient& client() const { return *client_; }

 protected:
  absl::StatusOr<Value> CallValue(absl::string_view method,
                                  std::vector<Value> args = {},
                                  absl::Duration timeout = absl::ZeroDuration()) const {
    return client_->Call(ref_.object_id, method, std::move(args), timeout);
  }
  absl::Status CallStatus(absl::string_view method, std::vector<Value> args = {},
                          absl::Duration timeout = absl::ZeroDuration()) const {
    return CallValue(method, std::move(args), timeout).status();
  }
  absl::Status Post(absl::string_view method, std::vector<Value> args = {}) const {
    return client_->Call(ref_.object_id, method, std::move(args),
                         CallMode::kPosted)
        .status();
  }
  // A posted release written with the client's next call ("Deferred
  // releases" in client.h).
  absl::Status PostRelease() const {
    return client_->Call(ref_.object_id, "release", {}, CallMode::kDeferred)
        .status();
  }
  absl::StatusOr<int64_t> CallInt(absl::string_view method,
                                  std::vector<Value> args = {}) const;
  absl::StatusOr<bool> CallBool(absl::string_view method) const;

 private:
  std::shared_ptr<ManagerClient> client_;
  ObjectRef ref_;
};

// Thread safety: may be used, and copied, from any thread at once. As with
// Python's Lock, any thread of any client may release it.
class Lock : public ObjectProxy {
 public:
  static constexpr char kType[] = "lock";
  using ObjectProxy::ObjectProxy;
  absl::Status Acquire(absl::Duration timeout) const {
    return CallStatus(methods::kAcquire, {}, timeout);
  }
  absl::Status Release() const { return PostRelease(); }  // deferred
  absl::StatusOr<bool> Locked() const { return CallBool(methods::kLocked); }
};

// Owned by (client, thread): only the acquiring thread may release.
// Thread safety: may be used from any thread; each (client, thread) is a
// separate owner.
class RLock : public ObjectProxy {
 public:
  static constexpr char kType[] = "rlock";
  using ObjectProxy::ObjectProxy;
  absl::Status Acquire(absl::Duration timeout) const {
    return CallStatus(methods::kAcquire, {}, timeout);
  }
  absl::Status Release() const { return PostRelease(); }  // deferred
};

// Create with {Value(initial)} (default 1).
// Thread safety: may be used, and copied, from any thread at once.
class Semaphore : public ObjectProxy {
 public:
  static constexpr char kType[] = "semaphore";
  using ObjectProxy::ObjectProxy;
  absl::Status Acquire(absl::Duration timeout) const {
    return CallStatus(methods::kAcquire, {}, timeout);
  }
  absl::Status Release(int64_t n = 1) const {  // posted
    return n == 1 ? Post(methods::kRelease) : Post(methods::kRelease, {Value(n)});
  }
  absl::StatusOr<int64_t> GetValue() const { return CallInt(methods::kValue); }
};

// A Semaphore whose value may never exceed its initial value.
// Thread safety: may be used, and copied, from any thread at once.
class BoundedSemaphore : public Semaphore {
 public:
  static constexpr char kType[] = "bounded_semaphore";
  using Semaphore::Semaphore;
};

// Thread safety: may be used, and copied, from any thread at once.
class Event : public ObjectProxy {
 public:
  static constexpr char kType[] = "event";
  using ObjectProxy::ObjectProxy;
  absl::Status Set() const { return Post(methods::kSet); }      // posted
  absl::Status Clear() const { return Post(methods::kClear); }  // posted
  absl::StatusOr<bool> IsSet() const { return CallBool(methods::kIsSet); }
  // OK once set; DeadlineExceeded if not set within `timeout`.
  absl::Status Wait(absl::Duration timeout) const {
    return CallStatus(methods::kWait, {}, timeout);
  }
};

// A condition variable with its own recursive lock (owned by client and
// thread).
// Thread safety: may be used from any thread; its lock is owned per
// (client, thread), as an RLock's.
class Condition : public ObjectProxy {
 public:
  static constexpr char kType[] = "condition";
  using ObjectProxy::ObjectProxy;
  absl::Status Acquire(absl::Duration timeout) const {
    return CallStatus(methods::kAcquire, {}, timeout);
  }
  absl::Status Release() const { return PostRelease(); }  // deferred
  // With the lock held: releases it, waits for a notify, retakes it (also
  // after a timeout, which returns DeadlineExceeded).
  absl::Status Wait(absl::Duration timeout) const {
    return CallStatus(methods::kWait, {}, timeout);
  }
  // Waits until `predicate()` (checked with the lock held) is true; OK with
  // the lock held, DeadlineExceeded (lock held) when `timeout` passes first.
  absl::Status WaitFor(const std::function<absl::StatusOr<bool>()>& predicate,
                       absl::Duration timeout) const;
  absl::Status Notify(int64_t n = 1) const {  // posted
    return n == 1 ? Post(methods::kNotify) : Post(methods::kNotify, {Value(n)});
  }
  absl::Status NotifyAll() const { return Post(methods::kNotifyAll); }  // posted
};

// Create with {Value(parties)}.
// Thread safety: may be used, and copied, from any thread at once. Each Wait()
// is one party.
class Barrier : public ObjectProxy {
 public:
  static constexpr char kType[] = "barrier";
  using ObjectProxy::ObjectProxy;
  // The arrival index (0 .. parties-1). FailedPrecondition if broken or
  // reset while waiting; a timeout breaks the barrier (as in Python).
  absl::StatusOr<int64_t> Wait(absl::Duration timeout) const;
  absl::Status Abort() const { return CallStatus(methods::kAbort); }
  absl::Status Reset() const { return CallStatus(methods::kReset); }
  absl::StatusOr<int64_t> Parties() const { return CallInt(methods::kParties); }
  absl::StatusOr<int64_t> NWaiting() const { return CallInt(methods::kNWaiting); }
  absl::StatusOr<bool> Broken() const { return CallBool(methods::kBroken); }
};

// Create with {Value(maxsize)} (0 or none: unbounded).
// Thread safety: may be used, and copied, from any thread at once.
class Queue : public ObjectProxy {
 public:
  static constexpr char kType[] = "queue";
  using ObjectProxy::ObjectProxy;
  absl::Status Put(Value item, absl::Duration timeout) const {
    return CallStatus(methods::kPut, {std::move(item)}, timeout);
  }
  absl::StatusOr<Value> Get(absl::Duration timeout) const {
    return CallValue(methods::kGet, {}, timeout);
  }
  absl::StatusOr<int64_t> Size() const { return CallInt(methods::kQsize); }
  absl::StatusOr<bool> Empty() const { return CallBool(methods::kEmpty); }
  absl::StatusOr<bool> Full() const { return CallBool(methods::kFull); }
  absl::Status TaskDone() const { return CallStatus(methods::kTaskDone); }
  // Waits until every item put was matched by a TaskDone.
  absl::Status Join(absl::Duration timeout) const {
    return CallStatus(methods::kJoin, {}, timeout);
  }
};

// Create with {Value(ValueList{...})} for initial items. Indexes may be
// negative (from the end).
// Thread safety: may be used, and copied, from any thread at once. Each call is
// atomic on the manager; a sequence of calls is not.
class List : public ObjectProxy {
 public:
  static constexpr char kType[] = "list";
  using ObjectProxy::ObjectProxy;
  absl::Status Append(Value v) const { return Post(methods::kAppend, {std::move(v)}); }
  absl::Status Extend(ValueList items) const {
    return Post(methods::kExtend, {Value(std::move(items))});
  }
  absl::Status Insert(int64_t index, Value v) const {
    return Post(methods::kInsert, {Value(index), std::move(v)});
  }
  absl::Status Set(int64_t index, Value v) const {
    return Post(methods::kSet, {Value(index), std::move(v)});
  }
  absl::StatusOr<Value> Get(int64_t index) const {
    return CallValue(methods::kGet, {Value(index)});
  }
  absl::StatusOr<Value> Pop() const { return CallValue(methods::kPop); }
  absl::StatusOr<Value> Pop(int64_t index) const {
    return CallValue(methods::kPop, {Value(index)});
  }
  absl::Status Remove(Value v) const { return CallStatus(methods::kRemove, {std::move(v)}); }
  absl::StatusOr<int64_t> Index(Value v) const {
    return CallInt(methods::kIndex, {std::move(v)});
  }
  absl::StatusOr<int64_t> Count(Value v) const {
    return CallInt(methods::kCount, {std::move(v)});
  }
  absl::StatusOr<bool> Contains(Value v) const;
  absl::StatusOr<int64_t> Len() const { return CallInt(methods::kLen); }
  absl::StatusOr<ValueList> GetAll() const;
  absl::Status SetAll(ValueList items) const {
    return Post(methods::kSetAll, {Value(std::move(items))});
  }
  absl::Status Clear() const { return Post(methods::kClear); }
  absl::Status Reverse() const { return Post(methods::kReverse); }
};

// String keys. Create with {Value(ValueDict{...})} for initial items.
// Thread safety: may be used, and copied, from any thread at once. Each call is
// atomic on the manager; a sequence of calls is not.
class Dict : public ObjectProxy {
 public:
  static constexpr char kType[] = "dict";
  using ObjectProxy::ObjectProxy;
  absl::Status Set(const std::string& key, Value v) const {
    return Post(methods::kSet, {Value(key), std::move(v)});
  }
  // NotFound for a missing key.
  absl::StatusOr<Value> Get(const std::string& key) const {
    return CallValue(methods::kGet, {Value(key)});
  }
  absl::StatusOr<Value> GetOr(const std::string& key, Value fallback) const {
    return CallValue(methods::kGet, {Value(key), std::move(fallback)});
  }
  absl::StatusOr<Value> Pop(const std::string& key) const {
    return CallValue(methods::kPop, {Value(key)});
  }
  absl::Status Delete(const std::string& key) const {
    return CallStatus(methods::kDelete, {Value(key)});
  }
  absl::StatusOr<Value> SetDefault(const std::string& key, Value v) const {
    return CallValue(methods::kSetdefault, {Value(key), std::move(v)});
  }
  absl::StatusOr<bool> Contains(const std::string& key) const;
  absl::StatusOr<int64_t> Len() const { return CallInt(methods::kLen); }
  absl::StatusOr<ValueList> Keys() const;
  absl::StatusOr<ValueDict> GetAll() const;
  absl::Status Update(ValueDict items) const {
    return Post(methods::kUpdate, {Value(std::move(items))});
  }
  absl::Status Clear() const { return Post(methods::kClear); }
};

// One shared value (Python's manager.Value). Create with {Value(initial)}.
// Thread safety: may be used, and copied, from any thread at once.
class ManagedValue : public ObjectProxy {
 public:
  static constexpr char kType[] = "value";
  using ObjectProxy::ObjectProxy;
  absl::StatusOr<Value> Get() const { return CallValue(methods::kGet); }
  absl::Status Set(Value v) const { return Post(methods::kSet, {std::move(v)}); }
};

// Named attributes (Python's manager.Namespace).
// Thread safety: may be used, and copied, from any thread at once.
class Namespace : public ObjectProxy {
 public:
  static constexpr char kType[] = "namespace";
  using ObjectProxy::ObjectProxy;
  // NotFound for a missing attribute.
  absl::StatusOr<Value> Get(const std::string& name) const {
    return CallValue(methods::kGet, {Value(name)});
  }
  absl::Status Set(const std::string& name, Value v) const {
    return Post(methods::kSet, {Value(name), std::move(v)});
  }
  absl::Status Delete(const std::string& name) const {
    return CallStatus(methods::kDelete, {Value(name)});
  }
  absl::StatusOr<ValueDict> GetAll() const;
};

// An object of a registered user type (user_type.h).
// Thread safety: may be used, and copied, from any thread at once. Methods run
// one at a time per object unless registered concurrent (user_type.h).
class UserProxy : public ObjectProxy {
 public:
  using ObjectProxy::ObjectProxy;
  absl::StatusOr<Value> Call(absl::string_view method,
                             std::vector<Value> args = {},
                             absl::Duration timeout = absl::ZeroDuration()) const {
    return CallValue(method, std::move(args), timeout);
  }
};

// ManagerClient's templates (declared in client.h).

template <typename P>
absl::StatusOr<P> ManagerClient::Create(std::vector<Value> args) {
  args.insert(args.begin(), Value(P::kType));
  absl::StatusOr<ObjectRef> ref =
      ManagerCall("create", std::move(args), P::kType);
  if (!ref.ok()) return ref.status();
  return P(shared_from_this(), *std::move(ref));
}

template <typename P>
absl::StatusOr<P> ManagerClient::GetOrCreate(const std::string& name,
                                             std::vector<Value> args) {
  args.insert(args.begin(), Value(P::kType));
  args.insert(args.begin(), Value(name));
  absl::StatusOr<ObjectRef> ref =
      ManagerCall("get_or_create", std::move(args), P::kType);
  if (!ref.ok()) return ref.status();
  return P(shared_from_this(), *std::move(ref));
}

template <typename P>
absl::StatusOr<P> ManagerClient::Get(const std::string& name) {
  absl::StatusOr<ObjectRef> ref = ManagerCall("get", {Value(name)}, P::kType);
  if (!ref.ok()) return ref.status();
  return P(shared_from_this(), *std::move(ref));
}

template <typename P>
absl::StatusOr<P> ManagerClient::Attach(uint64_t object_id) {
  absl::StatusOr<ObjectRef> ref =
      ManagerCall("attach", {Value(object_id)}, P::kType);
  if (!ref.ok()) return ref.status();
  return P(shared_from_this(), *std::move(ref));
}

template <typename P>
absl::StatusOr<P> ManagerClient::FromRef(const Value& ref) {
  if (!ref.is_ref()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a reference to a ", P::kType, ", got ", ref.DebugString()));
  }
  if (ref.as_ref().type != P::kType) {
    return absl::FailedPreconditionError(
        absl::StrCat("object #", ref.as_ref().object_id, " is a ",
                     ref.as_ref().type, ", not a ", P::kType));
  }
  if (ref.as_ref().handle == nullptr) return Attach<P>(ref.as_ref().object_id);
  return P(shared_from_this(), ref.as_ref());
}

}  // namespace syncstream::manager

#endif  // SYNCSTREAM_MANAGER_PROXIES_H_
