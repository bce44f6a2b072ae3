// UserType<T>: a type of server-side object that clients create by name and
// call through named methods taking and returning Values, registered on a
// Manager (Manager::RegisterType) before clients use it.
//
//   struct Counter { int64_t n = 0; };
//   UserType<Counter> counter("counter");
//   counter.Factory([](const std::vector<Value>& args)
//                       -> absl::StatusOr<std::unique_ptr<Counter>> {
//     return std::make_unique<Counter>();
//   });
//   counter.Method("add", [](Counter& c, const UserCall& call)
//                             -> absl::StatusOr<Value> {
//     SYNCSTREAM_ASSIGN_OR_RETURN(int64_t by, call.args.at(0).GetInt("by"));
//     return Value(c.n += by);
//   });
//   manager.RegisterType(counter.definition());
//
//   // In any client:
//   SYNCSTREAM_ASSIGN_OR_RETURN(UserProxy c,
//       client->GetOrCreateUser("hits", "counter", {}));
//   c.Call("add", {Value(1)});
//
// Methods run one at a time per object (under the object's mutex), on the
// connection's thread: keep them short and non-blocking. A method registered
// with ConcurrentMethod runs on its own thread without that mutex (the type
// synchronizes itself) and may wait, but no longer than `call.deadline`.
// References inside values a user object keeps do not keep the referenced
// objects alive.
#ifndef SYNCSTREAM_MANAGER_USER_TYPE_H_
#define SYNCSTREAM_MANAGER_USER_TYPE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/manager/value.h"

namespace syncstream::manager {

struct UserCall {
  const std::vector<Value>& args;
  absl::Time deadline;  // when the caller stops waiting
};

// The type-erased form a Manager stores.
struct UserTypeDefinition {
  using Factory = std::function<absl::StatusOr<std::shared_ptr<void>>(
      const std::vector<Value>& args)>;
  using Method =
      std::function<absl::StatusOr<Value>(void* self, const UserCall& call)>;
  struct MethodEntry {
    Method run;
    bool concurrent = false;
  };
  std::string name;
  Factory factory;
  std::map<std::string, MethodEntry, std::less<>> methods;
};

template <typename T>
class UserType {
 public:
  explicit UserType(std::string name) { definition_.name = std::move(name); }

  UserType& Factory(std::function<absl::StatusOr<std::unique_ptr<T>>(
                        const std::vector<Value>& args)>
                        factory) {
    definition_.factory = [factory = std::move(factory)](
                              const std::vector<Value>& args)
        -> absl::StatusOr<std::shared_ptr<void>> {
      absl::StatusOr<std::unique_ptr<T>> made = factory(args);
      if (!made.ok()) return made.status();
      return std::shared_ptr<void>(std::shared_ptr<T>(*std::move(made)));
    };
    return *this;
  }

  using MethodFn = std::function<absl::StatusOr<Value>(T&, const UserCall&)>;
  UserType& Method(std::string name, MethodFn fn) {
    return Add(std::move(name), std::move(fn), /*concurrent=*/false);
  }
  UserType& ConcurrentMethod(std::string name, MethodFn fn) {
    return Add(std::move(name), std::move(fn), /*concurrent=*/true);
  }

  const UserTypeDefinition& definition() const { return definition_; }

 private:
  UserType& Add(std::string name, MethodFn fn, bool concurrent) {
    definition_.methods[std::move(name)] = UserTypeDefinition::MethodEntry{
        [fn = std::move(fn)](void* self, const UserCall& call) {
          return fn(*static_cast<T*>(self), call);
        },
        concurrent};
    return *this;
  }

  UserTypeDefinition definition_;
};

}  // namespace syncstream::manager

#endif  // SYNCSTREAM_MANAGER_USER_TYPE_H_
