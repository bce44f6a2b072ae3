// Built-in data objects: Queue, List, Dict, Value, Namespace. They hold
// Values; a reference stored in one keeps the referenced object alive.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_DATA_OBJECTS_H_
#define SYNCSTREAM_MANAGER_INTERNAL_DATA_OBJECTS_H_

#include <cstdint>
#include <memory>

#include "syncstream/manager/internal/object.h"
#include "syncstream/manager/value.h"

namespace syncstream::manager::internal {

// The initial contents' references must already be taken (RefAll).
std::shared_ptr<ManagedObject> NewQueue(int64_t maxsize);
std::shared_ptr<ManagedObject> NewList(ValueList items);
std::shared_ptr<ManagedObject> NewDict(ValueDict items);
std::shared_ptr<ManagedObject> NewValueObject(Value initial);
std::shared_ptr<ManagedObject> NewNamespace(ValueDict attributes);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_DATA_OBJECTS_H_
