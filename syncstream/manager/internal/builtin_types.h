// The built-in managed types, created by name:
//
//   lock, rlock, semaphore(value=1), bounded_semaphore(value=1), event,
//   condition, barrier(parties), queue(maxsize=0), list(items=[]),
//   dict(items={}), value(initial=None), namespace(attrs={})
//
// Their methods follow Python's threading/queue/list/dict objects; see
// syncstream/manager/proxies.h for the contract of each.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_BUILTIN_TYPES_H_
#define SYNCSTREAM_MANAGER_INTERNAL_BUILTIN_TYPES_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/manager/internal/object.h"
#include "syncstream/manager/value.h"

namespace syncstream::manager::internal {

bool IsBuiltinType(absl::string_view type);

// Creates an object of built-in `type`. References inside `args` that the
// object keeps are taken through `references`.
absl::StatusOr<std::shared_ptr<ManagedObject>> CreateBuiltin(
    absl::string_view type, std::vector<Value> args,
    ReferenceKeeper* references);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_BUILTIN_TYPES_H_
