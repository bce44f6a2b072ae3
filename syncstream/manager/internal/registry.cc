#include "syncstream/manager/internal/registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace syncstream::manager::internal {

Registry::~Registry() { Clear(); }

uint64_t Registry::Add(std::shared_ptr<ManagedObject> object) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  object->set_label(absl::StrCat(object->type(), " #", id));
  objects_[id].object = std::move(object);
  return id;
}

absl::StatusOr<uint64_t> Registry::GetOrCreate(const std::string& name,
                                               absl::string_view type,
                                               const Factory& create) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = names_.find(name);
    if (it != names_.end()) {
      const Slot& slot = objects_.at(it->second);
      if (slot.object->type() != type) {
        return absl::FailedPreconditionError(absl::StrCat(
            slot.object->type(), " '", absl::CEscape(name),
            "' exists; asked for a ", type));
      }
      return it->second;
    }
  }
  // Created outside the lock; if another client won the race, theirs stays.
  absl::StatusOr<std::shared_ptr<ManagedObject>> object = create();
  if (!object.ok()) return object.status();
  std::vector<std::shared_ptr<ManagedObject>> loser;
  uint64_t id;
  std::string existing_type;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = names_.find(name);
    if (it != names_.end()) {
      id = it->second;
      existing_type = objects_.at(id).object->type();
      loser.push_back(*std::move(object));
    } else {
      id = next_id_++;
      (*object)->set_label(
          absl::StrCat(type, " '", absl::CEscape(name), "'"));
      Slot& slot = objects_[id];
      slot.object = *std::move(object);
      slot.name = name;
      slot.references = 1;  // held by its name
      names_[name] = id;
    }
  }
  Bury(std::move(loser));
  if (!existing_type.empty() && existing_type != type) {
    return absl::FailedPreconditionError(
        absl::StrCat(existing_type, " '", absl::CEscape(name),
                     "' exists; asked for a ", type));
  }
  return id;
}

absl::StatusOr<uint64_t> Registry::FindName(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = names_.find(name);
  if (it == names_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no object named '", absl::CEscape(name), "'"));
  }
  return it->second;
}

absl::Status Registry::DeleteName(const std::string& name) {
  std::vector<std::shared_ptr<ManagedObject>> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = names_.find(name);
    if (it == names_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no object named '", absl::CEscape(name), "'"));
    }
    const uint64_t id = it->second;
    names_.erase(it);
    objects_.at(id).name.clear();
    UnrefLocked(id, &dead);
  }
  Bury(std::move(dead));
  return absl::OkStatus();
}

std::shared_ptr<ManagedObject> Registry::Find(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second.object;
}

absl::Status Registry::Ref(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(id);
  if (it == objects_.end()) {
    return absl::NotFoundError(absl::StrCat("no object #", id));
  }
  ++it->second.references;
  return absl::OkStatus();
}

void Registry::Unref(uint64_t id) {
  std::vector<std::shared_ptr<ManagedObject>> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    UnrefLocked(id, &dead);
  }
  Bury(std::move(dead));
}

absl::Status Registry::RefAll(const Value& value) {
  if (value.kind() < ValueKind::kList) return absl::OkStatus();  // fast path
  std::lock_guard<std::mutex> lock(mu_);
  absl::Status missing;
  ForEachRef(value, [&](const ObjectRef& ref) {
    if (!missing.ok()) return;
    auto it = objects_.find(ref.object_id);
    if (it == objects_.end()) {
      missing = absl::NotFoundError(
          absl::StrCat("reference to object #", ref.object_id,
                       ", which does not exist"));
    } else if (!ref.type.empty() && ref.type != it->second.object->type()) {
      missing = absl::InvalidArgumentError(
          absl::StrCat("reference to ", ref.type, " #", ref.object_id,
                       ", which is a ", it->second.object->type()));
    }
  });
  if (!missing.ok()) return missing;
  ForEachRef(value,
             [&](const ObjectRef& ref) { ++objects_[ref.object_id].references; });
  return absl::OkStatus();
}

void Registry::UnrefAll(const Value& value) {
  if (value.kind() < ValueKind::kList) return;
  std::vector<std::shared_ptr<ManagedObject>> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ForEachRef(value,
               [&](const ObjectRef& ref) { UnrefLocked(ref.object_id, &dead); });
  }
  Bury(std::move(dead));
}

void Registry::UnrefLocked(uint64_t id,
                           std::vector<std::shared_ptr<ManagedObject>>* dead) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  if (--it->second.references > 0) return;
  dead->push_back(std::move(it->second.object));
  objects_.erase(it);
}

void Registry::Bury(std::vector<std::shared_ptr<ManagedObject>> dead) {
  // Iterative: a chain of nested containers must not recurse per level.
  while (!dead.empty()) {
    std::shared_ptr<ManagedObject> object = std::move(dead.back());
    dead.pop_back();
    std::vector<Value> contents = object->TakeContents();
    object.reset();
    std::lock_guard<std::mutex> lock(mu_);
    for (const Value& v : contents) {
      ForEachRef(v, [&](const ObjectRef& ref) {
        UnrefLocked(ref.object_id, &dead);
      });
    }
  }
}

std::vector<Registry::Entry> Registry::Snapshot() const {
  std::vector<Entry> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries.reserve(objects_.size());
    for (const auto& [id, slot] : objects_) {
      entries.push_back(Entry{id, slot.name, slot.references, slot.object});
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.id < b.id; });
  return entries;
}

std::vector<Registry::Entry> Registry::Page(uint64_t after_id, size_t limit) const {
  std::vector<Entry> entries;
  if (limit == 0) return entries;
  std::lock_guard<std::mutex> lock(mu_);
  // Ids only, then the smallest `limit` of them: a page of a large registry
  // copies no more names than it returns.
  std::vector<uint64_t> ids;
  for (const auto& [id, slot] : objects_) {
    if (id > after_id) ids.push_back(id);
  }
  if (ids.size() > limit) {
    std::nth_element(ids.begin(), ids.begin() + limit, ids.end());
    ids.resize(limit);
  }
  std::sort(ids.begin(), ids.end());
  entries.reserve(ids.size());
  for (uint64_t id : ids) {
    const Slot& slot = objects_.at(id);
    entries.push_back(Entry{id, slot.name, slot.references, slot.object});
  }
  return entries;
}

void Registry::Clear() {
  std::unordered_map<uint64_t, Slot> objects;
  {
    std::lock_guard<std::mutex> lock(mu_);
    objects.swap(objects_);
    names_.clear();
  }
  // Break reference cycles: empty every object, then let them go.
  for (auto& [id, slot] : objects) slot.object->TakeContents();
}

}  // namespace syncstream::manager::internal
