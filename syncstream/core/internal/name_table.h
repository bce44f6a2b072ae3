// NameTable: interned sender and type names for the record stores.
//
// A store keeps each distinct name once and slots point to it, so that
// copying a record into a slot copies no name. Intern() first looks in a
// small per-thread cache (no lock), then in the table (a mutex). Interned
// names live as long as the table. Thread-safe.
#ifndef SYNCSTREAM_CORE_INTERNAL_NAME_TABLE_H_
#define SYNCSTREAM_CORE_INTERNAL_NAME_TABLE_H_

#include <cstdint>
#include <string>
#include <unordered_set>

#include "absl/base/thread_annotations.h"
#include "syncstream/core/mutex.h"

namespace syncstream {
namespace internal {

// The interned empty name, shared by every table (never destroyed).
const std::string& EmptyName();

class NameTable {
 public:
  NameTable();
  NameTable(const NameTable&) = delete;
  NameTable& operator=(const NameTable&) = delete;

  // The interned copy of `name`, valid until the table is destroyed.
  const std::string* Intern(const std::string& name) const;

 private:
  const uint64_t id_;  // process-unique, never reused (keys the thread cache)
  mutable Mutex mutex_;
  // node-based: stable
  mutable std::unordered_set<std::string> names_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_NAME_TABLE_H_
