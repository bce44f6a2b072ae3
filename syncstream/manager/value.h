// Value: the typed variant that managed containers hold and that proxies pass
// to and from the manager: null, bool, int64, double, string, bytes, a list of
// values, a dict from string keys to values, or a reference to another managed
// object (ObjectRef).
//
// A list or dict value is a copy; a reference is shared: storing an ObjectRef
// to a managed List inside a managed Dict and mutating it through the List's
// proxy is visible to every client reading the Dict (the Python SyncManager
// pitfall of nested plain lists does not exist here).
//
// Equality compares contents (references by object id); doubles compare with
// ==, and an int never equals a double.
#ifndef SYNCSTREAM_MANAGER_VALUE_H_
#define SYNCSTREAM_MANAGER_VALUE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/manager/manager.pb.h"

namespace syncstream::manager {

class Value;

// Kept alive by a client while it may use the referenced object; its
// destructor tells the manager the client let go (see ManagerClient).
class ObjectHandle {
 public:
  virtual ~ObjectHandle() = default;
};

struct ObjectRef {
  uint64_t object_id = 0;
  std::string type;  // "lock", "list", ... or a registered type's name
  // Client side only: the client's hold on the object (may be null).
  std::shared_ptr<const ObjectHandle> handle;
};

struct Bytes {
  std::string data;
};

using ValueList = std::vector<Value>;
using ValueDict = std::map<std::string, Value>;

enum class ValueKind {
  kNull = 0,
  kBool,
  kInt,
  kDouble,
  kString,
  kBytes,
  kList,
  kDict,
  kRef
};

// "null", "bool", "int", "double", "string", "bytes", "list", "dict", "ref".
absl::string_view ValueKindName(ValueKind kind);

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(uint32_t i) : v_(static_cast<int64_t>(i)) {}
  // Object ids and sizes; stored as int64 (values above INT64_MAX wrap).
  Value(uint64_t i) : v_(static_cast<int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(absl::string_view s) : v_(std::string(s)) {}
  Value(Bytes b) : v_(std::move(b)) {}
  Value(ValueList l) : v_(std::move(l)) {}
  Value(ValueDict d) : v_(std::move(d)) {}
  Value(ObjectRef r) : v_(std::move(r)) {}

  ValueKind kind() const { return static_cast<ValueKind>(v_.index()); }
  bool is_null() const { return kind() == ValueKind::kNull; }
  bool is_bool() const { return kind() == ValueKind::kBool; }
  bool is_int() const { return kind() == ValueKind::kInt; }
  bool is_double() const { return kind() == ValueKind::kDouble; }
  bool is_string() const { return kind() == ValueKind::kString; }
  bool is_bytes() const { return kind() == ValueKind::kBytes; }
  bool is_list() const { return kind() == ValueKind::kList; }
  bool is_dict() const { return kind() == ValueKind::kDict; }
  bool is_ref() const { return kind() == ValueKind::kRef; }

  // Accessors: call only for the matching kind (checked by std::get).
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const std::string& as_bytes() const { return std::get<Bytes>(v_).data; }
  const ValueList& as_list() const { return std::get<ValueList>(v_); }
  ValueList& as_list() { return std::get<ValueList>(v_); }
  const ValueDict& as_dict() const { return std::get<ValueDict>(v_); }
  ValueDict& as_dict() { return std::get<ValueDict>(v_); }
  const ObjectRef& as_ref() const { return std::get<ObjectRef>(v_); }

  // Checked accessors for values that came from elsewhere: an
  // InvalidArgument naming `what` when the kind does not match.
  absl::StatusOr<int64_t> GetInt(absl::string_view what) const;
  absl::StatusOr<std::string> GetString(absl::string_view what) const;
  absl::StatusOr<bool> GetBool(absl::string_view what) const;

  // Python-like printable form: None, True, 3, 2.5, 'text', b'..', [..],
  // {'k': ..}, <list #7>.
  std::string DebugString() const;

  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Bytes,
               ValueList, ValueDict, ObjectRef>
      v_;
};

std::ostream& operator<<(std::ostream& os, const Value& value);

// Nesting limit for lists and dicts inside values (protects the decoder's
// stack against hostile input).
inline constexpr int kMaxValueDepth = 64;

// Wire conversion. FromProto rejects values nested deeper than kMaxValueDepth
// and dicts with duplicate keys (InvalidArgument).
void ToProto(const Value& value, proto::Value* out);
absl::StatusOr<Value> FromProto(const proto::Value& value);

// Calls `fn(const ObjectRef&)` for every reference inside `value`.
template <typename Fn>
void ForEachRef(const Value& value, Fn&& fn) {
  switch (value.kind()) {
    case ValueKind::kRef:
      fn(value.as_ref());
      break;
    case ValueKind::kList:
      for (const Value& item : value.as_list()) ForEachRef(item, fn);
      break;
    case ValueKind::kDict:
      for (const auto& [key, item] : value.as_dict()) ForEachRef(item, fn);
      break;
    default:
      break;
  }
}

}  // namespace syncstream::manager

#endif  // SYNCSTREAM_MANAGER_VALUE_H_
