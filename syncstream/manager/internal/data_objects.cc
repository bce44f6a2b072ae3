#include "syncstream/manager/internal/data_objects.h"
#include "syncstream/manager/method_names.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace syncstream::manager::internal {
namespace {

// Collects the values an operation removed; the dispatcher drops their
// references after the reply took its own and every object mutex is released
// (dropping may destroy objects, which lock their own).
class Dropped {
 public:
  explicit Dropped(CallContext& ctx) : out_(ctx.dropped) {}
  void Add(Value v) { out_.push_back(std::move(v)); }

 private:
  std::vector<Value>& out_;
};

// Python-style index: negative counts from the end. OutOfRange outside.
absl::StatusOr<size_t> ResolveIndex(const ManagedObject& object,
                                    const Value& index, size_t size,
                                    bool allow_end) {
  absl::StatusOr<int64_t> i = index.GetInt(object.label() + ": index");
  if (!i.ok()) return i.status();
  int64_t n = static_cast<int64_t>(size);
  int64_t resolved = *i < 0 ? *i + n : *i;
  if (resolved < 0 || resolved > n || (resolved == n && !allow_end)) {
    return absl::OutOfRangeError(absl::StrCat(
        object.label(), ": index ", *i, " out of range (size ", size, ")"));
  }
  return static_cast<size_t>(resolved);
}

// List and Dict: containers whose methods run under the object's mutex and
// never wait. Methods that store their arguments (Stores) take the
// arguments' references first and give them back if the method fails.
class ContainerObject : public ManagedObject {
 public:
  using ManagedObject::ManagedObject;

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) final {
    Dropped dropped(ctx);
    const bool stores = Stores(method);
    if (stores) {
      for (size_t i = 0; i < args.size(); ++i) {
        if (absl::Status s = ctx.references->RefAll(args[i]); !s.ok()) {
          for (size_t j = 0; j < i; ++j) dropped.Add(args[j]);
          return s;
        }
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    absl::StatusOr<Value> result = Run(method, args, dropped);
    if (!result.ok() && stores) {
      for (Value& v : args) dropped.Add(std::move(v));
    }
    return result;
  }

  ObjectInfo Describe() final {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectInfo info;
    info.state = absl::StrCat("len=", SizeLocked());
    return info;
  }

 protected:
  virtual size_t SizeLocked() const = 0;
  virtual bool Stores(absl::string_view method) const = 0;
  // With mu_ held. On success the stored arguments were moved out of `args`
  // (or replaced by values that hold no reference).
  virtual absl::StatusOr<Value> Run(absl::string_view method,
                                    std::vector<Value>& args,
                                    Dropped& dropped) = 0;
};

class QueueObject : public ManagedObject {
 public:
  explicit QueueObject(int64_t maxsize)
      : ManagedObject("queue"), maxsize_(maxsize) {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    if (method == methods::kPut) {
      if (absl::Status s = CheckArgs(*this, method, args, 1, 1); !s.ok()) {
        return s;
      }
      if (absl::Status s = ctx.references->RefAll(args[0]); !s.ok()) return s;
      std::unique_lock<std::mutex> lock(mu_);
      absl::Status s = Await(ctx, lock, "put", [&] {
        return maxsize_ <= 0 || static_cast<int64_t>(items_.size()) < maxsize_;
      });
      if (!s.ok()) {
        ctx.dropped.push_back(args[0]);  // args stay intact for a retry
        return s;
      }
      items_.push_back(std::move(args[0]));
      ++unfinished_;
      if (waiting_ > 0) cv_.notify_all();
      return Value();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (method == methods::kGet) {
      absl::Status s = Await(ctx, lock, "get", [&] { return !items_.empty(); });
      if (!s.ok()) return s;
      // The reference moves from the queue to the caller's reply.
      Value item = std::move(items_.front());
      items_.pop_front();
      if (waiting_ > 0) cv_.notify_all();
      ctx.dropped.push_back(item);  // the queue's references
      return item;
    }
    if (method == methods::kQsize) return Value(static_cast<int64_t>(items_.size()));
    if (method == methods::kEmpty) return Value(items_.empty());
    if (method == methods::kFull) {
      return Value(maxsize_ > 0 &&
                   static_cast<int64_t>(items_.size()) >= maxsize_);
    }
    if (method == methods::kTaskDone) {
      if (unfinished_ <= 0) {
        return absl::FailedPreconditionError(
            absl::StrCat(label(), ": task_done called too many times"));
      }
      if (--unfinished_ == 0) cv_.notify_all();
      return Value();
    }
    if (method == methods::kJoin) {
      absl::Status s =
          Await(ctx, lock, "join", [&] { return unfinished_ == 0; });
      if (!s.ok()) return s;
      return Value();
    }
    return BadMethod(method);
  }

  std::vector<Value> TakeContents() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Value> out(std::make_move_iterator(items_.begin()),
                           std::make_move_iterator(items_.end()));
    items_.clear();
    return out;
  }

  ObjectInfo Describe() override {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectInfo info;
    info.waiters = waiters();
    info.state = absl::StrCat("size=", items_.size(),
                              " unfinished=", unfinished_);
    return info;
  }

 private:
  const int64_t maxsize_;
  std::deque<Value> items_;
  int64_t unfinished_ = 0;
};

class ListObject : public ContainerObject {
 public:
  explicit ListObject(ValueList items)
      : ContainerObject("list"), items_(std::move(items)) {}

  std::vector<Value> TakeContents() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(items_, {});
  }


 private:
  size_t SizeLocked() const override { return items_.size(); }
  bool Stores(absl::string_view method) const override {
    return method == methods::kAppend || method == methods::kExtend || method == methods::kInsert ||
           method == methods::kSet || method == methods::kSetAll;
  }

  absl::StatusOr<Value> Run(absl::string_view method, std::vector<Value>& args,
                            Dropped& dropped) override {
    if (method == methods::kAppend) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      items_.push_back(std::move(args[0]));
      return Value();
    }
    if (method == methods::kExtend) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      if (!args[0].is_list()) {
        return absl::InvalidArgumentError(
            absl::StrCat(label(), ": extend takes a list"));
      }
      for (Value& v : args[0].as_list()) items_.push_back(std::move(v));
      return Value();
    }
    if (method == methods::kInsert) {
      if (auto s = CheckArgs(*this, method, args, 2, 2); !s.ok()) return s;
      absl::StatusOr<int64_t> i = args[0].GetInt(label() + ": index");
      if (!i.ok()) return i.status();
      int64_t n = static_cast<int64_t>(items_.size());
      int64_t at = std::clamp<int64_t>(*i < 0 ? *i + n : *i, 0, n);
      items_.insert(items_.begin() + at, std::move(args[1]));
      args[0] = Value();  // not a stored value; nothing to drop on error
      return Value();
    }
    if (method == methods::kSet) {
      if (auto s = CheckArgs(*this, method, args, 2, 2); !s.ok()) return s;
      absl::StatusOr<size_t> i = ResolveIndex(*this, args[0], items_.size(),
                                              /*allow_end=*/false);
      if (!i.ok()) return i.status();
      dropped.Add(std::exchange(items_[*i], std::move(args[1])));
      return Value();
    }
    if (method == methods::kSetAll) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      if (!args[0].is_list()) {
        return absl::InvalidArgumentError(
            absl::StrCat(label(), ": set_all takes a list"));
      }
      for (Value& v : items_) dropped.Add(std::move(v));
      items_ = std::move(args[0].as_list());
      return Value();
    }
    if (method == methods::kGet) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      absl::StatusOr<size_t> i = ResolveIndex(*this, args[0], items_.size(),
                                              /*allow_end=*/false);
      if (!i.ok()) return i.status();
      return items_[*i];
    }
    if (method == methods::kPop) {
      if (auto s = CheckArgs(*this, method, args, 0, 1); !s.ok()) return s;
      if (items_.empty()) {
        return absl::OutOfRangeError(absl::StrCat(label(), ": pop from empty list"));
      }
      size_t at = items_.size() - 1;
      if (!args.empty()) {
        absl::StatusOr<size_t> i = ResolveIndex(*this, args[0], items_.size(),
                                                /*allow_end=*/false);
        if (!i.ok()) return i.status();
        at = *i;
      }
      Value v = std::move(items_[at]);
      items_.erase(items_.begin() + at);
      dropped.Add(v);
      return v;
    }
    if (method == methods::kRemove || method == methods::kIndex || method == methods::kCount ||
        method == methods::kContains) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      if (method == methods::kCount) {
        return Value(static_cast<int64_t>(
            std::count(items_.begin(), items_.end(), args[0])));
      }
      auto it = std::find(items_.begin(), items_.end(), args[0]);
      if (method == methods::kContains) return Value(it != items_.end());
      if (it == items_.end()) {
        return absl::NotFoundError(absl::StrCat(
            label(), ": ", args[0].DebugString(), " is not in the list"));
      }
      if (method == methods::kIndex) {
        return Value(static_cast<int64_t>(it - items_.begin()));
      }
      dropped.Add(std::move(*it));
      items_.erase(it);
      return Value();
    }
    if (method == methods::kLen) return Value(static_cast<int64_t>(items_.size()));
    if (method == methods::kGetAll) return Value(items_);
    if (method == methods::kClear) {
      for (Value& v : items_) dropped.Add(std::move(v));
      items_.clear();
      return Value();
    }
    if (method == methods::kReverse) {
      std::reverse(items_.begin(), items_.end());
      return Value();
    }
    return BadMethod(method);
  }

  ValueList items_;
};

// Dict and Namespace: a map from string keys to values.
class DictObject : public ContainerObject {
 public:
  DictObject(std::string type, ValueDict items)
      : ContainerObject(std::move(type)), items_(std::move(items)) {}

  std::vector<Value> TakeContents() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Value> out;
    for (auto& [key, v] : items_) out.push_back(std::move(v));
    items_.clear();
    return out;
  }


 private:
  absl::StatusOr<std::string> Key(const Value& v) const {
    return v.GetString(label() + ": key");
  }

  absl::Status Missing(const std::string& key) const {
    return absl::NotFoundError(
        absl::StrCat(label(), ": no key '", absl::CEscape(key), "'"));
  }

  size_t SizeLocked() const override { return items_.size(); }
  bool Stores(absl::string_view method) const override {
    return method == methods::kSet || method == methods::kUpdate || method == methods::kSetdefault ||
           method == methods::kSetAll;
  }

  absl::StatusOr<Value> Run(absl::string_view method, std::vector<Value>& args,
                            Dropped& dropped) override {
    if (method == methods::kSet || method == methods::kSetdefault) {
      if (auto s = CheckArgs(*this, method, args, 2, 2); !s.ok()) return s;
      absl::StatusOr<std::string> key = Key(args[0]);
      if (!key.ok()) return key.status();
      auto [it, inserted] = items_.try_emplace(*std::move(key));
      if (inserted || method == methods::kSet) {
        dropped.Add(std::exchange(it->second, std::move(args[1])));
        args[1] = Value();
        if (method == methods::kSet) return Value();
      } else {
        dropped.Add(std::move(args[1]));  // setdefault kept the old value
        args[1] = Value();
      }
      return it->second;
    }
    if (method == methods::kUpdate || method == methods::kSetAll) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      if (!args[0].is_dict()) {
        return absl::InvalidArgumentError(
            absl::StrCat(label(), ": ", method, " takes a dict"));
      }
      if (method == methods::kSetAll) {
        for (auto& [key, v] : items_) dropped.Add(std::move(v));
        items_.clear();
      }
      for (auto& [key, v] : args[0].as_dict()) {
        Value& slot = items_[key];
        dropped.Add(std::exchange(slot, std::move(v)));
      }
      args[0] = Value();
      return Value();
    }
    if (method == methods::kGet || method == methods::kPop) {
      if (auto s = CheckArgs(*this, method, args, 1, 2); !s.ok()) return s;
      absl::StatusOr<std::string> key = Key(args[0]);
      if (!key.ok()) return key.status();
      auto it = items_.find(*key);
      if (it == items_.end()) {
        if (args.size() == 2) return args[1];
        return Missing(*key);
      }
      if (method == methods::kGet) return it->second;
      Value v = std::move(it->second);
      items_.erase(it);
      dropped.Add(v);
      return v;
    }
    if (method == methods::kDelete) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      absl::StatusOr<std::string> key = Key(args[0]);
      if (!key.ok()) return key.status();
      auto it = items_.find(*key);
      if (it == items_.end()) return Missing(*key);
      dropped.Add(std::move(it->second));
      items_.erase(it);
      return Value();
    }
    if (method == methods::kContains) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      absl::StatusOr<std::string> key = Key(args[0]);
      if (!key.ok()) return key.status();
      return Value(items_.count(*key) > 0);
    }
    if (method == methods::kLen) return Value(static_cast<int64_t>(items_.size()));
    if (method == methods::kKeys) {
      ValueList keys;
      for (const auto& [key, v] : items_) keys.emplace_back(key);
      return Value(std::move(keys));
    }
    if (method == methods::kValues) {
      ValueList values;
      for (const auto& [key, v] : items_) values.push_back(v);
      return Value(std::move(values));
    }
    if (method == methods::kItems) {
      ValueList items;
      for (const auto& [key, v] : items_) {
        items.emplace_back(ValueList{Value(key), v});
      }
      return Value(std::move(items));
    }
    if (method == methods::kGetAll) return Value(items_);
    if (method == methods::kClear) {
      for (auto& [key, v] : items_) dropped.Add(std::move(v));
      items_.clear();
      return Value();
    }
    return BadMethod(method);
  }

  ValueDict items_;
};

class ValueObject : public ManagedObject {
 public:
  explicit ValueObject(Value initial)
      : ManagedObject("value"), value_(std::move(initial)) {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    Dropped dropped(ctx);
    if (method == methods::kSet) {
      if (auto s = CheckArgs(*this, method, args, 1, 1); !s.ok()) return s;
      if (auto s = ctx.references->RefAll(args[0]); !s.ok()) return s;
      std::lock_guard<std::mutex> lock(mu_);
      dropped.Add(std::exchange(value_, std::move(args[0])));
      return Value();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (method == methods::kGet) return value_;
    return BadMethod(method);
  }

  std::vector<Value> TakeContents() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Value> out;
    out.push_back(std::exchange(value_, Value()));
    return out;
  }

  ObjectInfo Describe() override {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectInfo info;
    info.state = value_.DebugString();
    if (info.state.size() > 60) info.state = info.state.substr(0, 57) + "...";
    return info;
  }

 private:
  Value value_;
};

}  // namespace

std::shared_ptr<ManagedObject> NewQueue(int64_t maxsize) {
  return std::make_shared<QueueObject>(maxsize);
}
std::shared_ptr<ManagedObject> NewList(ValueList items) {
  return std::make_shared<ListObject>(std::move(items));
}
std::shared_ptr<ManagedObject> NewDict(ValueDict items) {
  return std::make_shared<DictObject>("dict", std::move(items));
}
std::shared_ptr<ManagedObject> NewValueObject(Value initial) {
  return std::make_shared<ValueObject>(std::move(initial));
}
std::shared_ptr<ManagedObject> NewNamespace(ValueDict attributes) {
  return std::make_shared<DictObject>("namespace", std::move(attributes));
}

}  // namespace syncstream::manager::internal
