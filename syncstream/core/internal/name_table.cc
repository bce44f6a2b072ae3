#include "syncstream/core/internal/name_table.h"

#include <atomic>
#include <cstring>

namespace syncstream {
namespace internal {
namespace {

// Table ids are never reused, so a thread's cache entry for a destroyed
// table can never match a new one.
std::atomic<uint64_t> next_table_id{1};

// The calling thread's last few interned names, to skip the table's lock on
// the append path.
struct NameCacheEntry {
  uint64_t table_id = 0;
  const std::string* name = nullptr;
};
constexpr int kNameCacheSize = 4;
thread_local NameCacheEntry name_cache[kNameCacheSize];
thread_local int name_cache_next = 0;

// Whether two names are equal; inline for short names, where a call to
// memcmp would cost more than the comparison.
bool SameName(const std::string& a, const std::string& b) {
  const size_t size = a.size();
  if (size != b.size()) return false;
  if (size > 16) return std::memcmp(a.data(), b.data(), size) == 0;
  for (size_t i = 0; i < size; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

const std::string& EmptyName() {
  static const std::string* empty = new std::string;
  return *empty;
}

NameTable::NameTable()
    : id_(next_table_id.fetch_add(1, std::memory_order_relaxed)) {}

const std::string* NameTable::Intern(const std::string& name) const {
  if (name.empty()) return &EmptyName();
  for (const NameCacheEntry& entry : name_cache) {
    if (entry.table_id == id_ && SameName(*entry.name, name)) {
      return entry.name;
    }
  }
  const std::string* interned;
  {
    MutexLock guard(&mutex_);
    interned = &*names_.insert(name).first;
  }
  name_cache[name_cache_next] = NameCacheEntry{id_, interned};
  name_cache_next = (name_cache_next + 1) % kNameCacheSize;
  return interned;
}

}  // namespace internal
}  // namespace syncstream
