// UserObject: an object of a registered user type (user_type.h).
#ifndef SYNCSTREAM_MANAGER_INTERNAL_USER_OBJECT_H_
#define SYNCSTREAM_MANAGER_INTERNAL_USER_OBJECT_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "syncstream/manager/internal/object.h"
#include "syncstream/manager/user_type.h"

namespace syncstream::manager::internal {

absl::StatusOr<std::shared_ptr<ManagedObject>> NewUserObject(
    std::shared_ptr<const UserTypeDefinition> type,
    const std::vector<Value>& args);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_USER_OBJECT_H_
