// Built-in synchronization objects: Lock, RLock, Semaphore, BoundedSemaphore,
// Event, Condition, Barrier. What a client holds is recorded per owner so a
// dead client's locks, RLock counts and permits are given back.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_SYNC_OBJECTS_H_
#define SYNCSTREAM_MANAGER_INTERNAL_SYNC_OBJECTS_H_

#include <cstdint>
#include <memory>

#include "syncstream/manager/internal/object.h"

namespace syncstream::manager::internal {

std::shared_ptr<ManagedObject> NewLock();
std::shared_ptr<ManagedObject> NewRLock();
// A client's permits are those it acquired and nobody released yet: a release
// first settles the releaser's own, then the oldest holder's.
std::shared_ptr<ManagedObject> NewSemaphore(int64_t value, bool bounded);
std::shared_ptr<ManagedObject> NewEvent();
// A condition with its own RLock.
std::shared_ptr<ManagedObject> NewCondition();
// A waiter whose client dies withdraws (the others keep waiting for a
// replacement); a waiter that times out breaks the barrier, as in Python.
std::shared_ptr<ManagedObject> NewBarrier(int64_t parties);

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_SYNC_OBJECTS_H_
