// Registry: every object a Manager hosts, by id and by name, with reference
// counts. An object is referenced by each client handle on it, by each
// reference to it stored in a container, and by its name while it has one;
// it dies when the count drops to zero (the values it held then drop their
// references in turn). Named objects thus live until deleted or the manager
// stops; anonymous ones while someone holds them.
#ifndef SYNCSTREAM_MANAGER_INTERNAL_REGISTRY_H_
#define SYNCSTREAM_MANAGER_INTERNAL_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/manager/internal/object.h"

namespace syncstream::manager::internal {

class Registry : public ReferenceKeeper {
 public:
  Registry() = default;
  ~Registry() override;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds an anonymous object with no reference yet (the caller takes one at
  // once). Returns its id.
  uint64_t Add(std::shared_ptr<ManagedObject> object);

  // The object named `name`, created by `create` when there is none. An
  // existing object of another type is FailedPrecondition.
  using Factory =
      std::function<absl::StatusOr<std::shared_ptr<ManagedObject>>()>;
  absl::StatusOr<uint64_t> GetOrCreate(const std::string& name,
                                       absl::string_view type,
                                       const Factory& create);
  // NotFound when nothing has that name.
  absl::StatusOr<uint64_t> FindName(const std::string& name) const;
  // Removes the name; the object lives on while referenced.
  absl::Status DeleteName(const std::string& name);

  // Null when no object has that id.
  std::shared_ptr<ManagedObject> Find(uint64_t id) const;

  // One reference more or less. Ref is NotFound for an unknown id.
  absl::Status Ref(uint64_t id);
  void Unref(uint64_t id);

  absl::Status RefAll(const Value& value) override;
  void UnrefAll(const Value& value) override;

  struct Entry {
    uint64_t id = 0;
    std::string name;
    int64_t references = 0;
    std::shared_ptr<ManagedObject> object;
  };
  // A snapshot of every object, by id.
  std::vector<Entry> Snapshot() const;
  // The first `limit` objects (by id) whose id is above `after_id`.
  std::vector<Entry> Page(uint64_t after_id, size_t limit) const;

  // Drops every name and object (manager shutdown).
  void Clear();

 private:
  struct Slot {
    std::shared_ptr<ManagedObject> object;
    std::string name;
    int64_t references = 0;
  };
  // With mu_ held: drops one reference; a dead object is moved to `dead`.
  void UnrefLocked(uint64_t id,
                   std::vector<std::shared_ptr<ManagedObject>>* dead);
  // Without mu_: empties dead objects and drops what they held.
  void Bury(std::vector<std::shared_ptr<ManagedObject>> dead);

  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Slot> objects_;
  std::unordered_map<std::string, uint64_t> names_;
};

}  // namespace syncstream::manager::internal

#endif  // SYNCSTREAM_MANAGER_INTERNAL_REGISTRY_H_
