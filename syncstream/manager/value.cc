#include "syncstream/manager/value.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace syncstream::manager {

absl::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull: return "null";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kDouble: return "double";
    case ValueKind::kString: return "string";
    case ValueKind::kBytes: return "bytes";
    case ValueKind::kList: return "list";
    case ValueKind::kDict: return "dict";
    case ValueKind::kRef: return "ref";
  }
  return "unknown";
}

namespace {

absl::Status KindMismatch(absl::string_view what, absl::string_view wanted,
                          const Value& got) {
  return absl::InvalidArgumentError(absl::StrCat(
      what, ": expected ", wanted, ", got ", ValueKindName(got.kind()), " ",
      got.DebugString()));
}

}  // namespace

absl::StatusOr<int64_t> Value::GetInt(absl::string_view what) const {
  if (!is_int()) return KindMismatch(what, "int", *this);
  return as_int();
}

absl::StatusOr<std::string> Value::GetString(absl::string_view what) const {
  if (!is_string()) return KindMismatch(what, "string", *this);
  return as_string();
}

absl::StatusOr<bool> Value::GetBool(absl::string_view what) const {
  if (!is_bool()) return KindMismatch(what, "bool", *this);
  return as_bool();
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kNull: return true;
    case ValueKind::kBool: return a.as_bool() == b.as_bool();
    case ValueKind::kInt: return a.as_int() == b.as_int();
    case ValueKind::kDouble: return a.as_double() == b.as_double();
    case ValueKind::kString: return a.as_string() == b.as_string();
    case ValueKind::kBytes: return a.as_bytes() == b.as_bytes();
    case ValueKind::kList: return a.as_list() == b.as_list();
    case ValueKind::kDict: return a.as_dict() == b.as_dict();
    case ValueKind::kRef:
      return a.as_ref().object_id == b.as_ref().object_id;
  }
  return false;
}

std::string Value::DebugString() const {
  switch (kind()) {
    case ValueKind::kNull: return "None";
    case ValueKind::kBool: return as_bool() ? "True" : "False";
    case ValueKind::kInt: return absl::StrCat(as_int());
    case ValueKind::kDouble: return absl::StrCat(as_double());
    case ValueKind::kString:
      return absl::StrCat("'", absl::CEscape(as_string()), "'");
    case ValueKind::kBytes:
      return absl::StrCat("b'", absl::CHexEscape(as_bytes()), "'");
    case ValueKind::kList:
      return absl::StrCat(
          "[",
          absl::StrJoin(as_list(), ", ",
                        [](std::string* out, const Value& v) {
                          out->append(v.DebugString());
                        }),
          "]");
    case ValueKind::kDict:
      return absl::StrCat(
          "{",
          absl::StrJoin(as_dict(), ", ",
                        [](std::string* out, const auto& entry) {
                          absl::StrAppend(out, "'", absl::CEscape(entry.first),
                                          "': ", entry.second.DebugString());
                        }),
          "}");
    case ValueKind::kRef:
      return absl::StrCat("<", as_ref().type, " #", as_ref().object_id, ">");
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const Value& value) {
  return os << value.DebugString();
}

void ToProto(const Value& value, proto::Value* out) {
  switch (value.kind()) {
    case ValueKind::kNull:
      out->mutable_null_value();
      break;
    case ValueKind::kBool:
      out->set_bool_value(value.as_bool());
      break;
    case ValueKind::kInt:
      out->set_int_value(value.as_int());
      break;
    case ValueKind::kDouble:
      out->set_double_value(value.as_double());
      break;
    case ValueKind::kString:
      out->set_string_value(value.as_string());
      break;
    case ValueKind::kBytes:
      out->set_bytes_value(value.as_bytes());
      break;
    case ValueKind::kList: {
      proto::ValueList* list = out->mutable_list_value();
      list->mutable_items()->Reserve(value.as_list().size());
      for (const Value& item : value.as_list()) ToProto(item, list->add_items());
      break;
    }
    case ValueKind::kDict: {
      proto::ValueDict* dict = out->mutable_dict_value();
      for (const auto& [key, item] : value.as_dict()) {
        proto::DictEntry* entry = dict->add_entries();
        entry->set_key(key);
        ToProto(item, entry->mutable_value());
      }
      break;
    }
    case ValueKind::kRef:
      out->mutable_ref_value()->set_object_id(value.as_ref().object_id);
      out->mutable_ref_value()->set_type(value.as_ref().type);
      break;
  }
}

namespace {

absl::StatusOr<Value> FromProtoAtDepth(const proto::Value& value, int depth) {
  if (depth > kMaxValueDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value nested deeper than ", kMaxValueDepth, " lists or dicts"));
  }
  switch (value.kind_case()) {
    case proto::Value::KIND_NOT_SET:
    case proto::Value::kNullValue:
      return Value();
    case proto::Value::kBoolValue:
      return Value(value.bool_value());
    case proto::Value::kIntValue:
      return Value(static_cast<int64_t>(value.int_value()));
    case proto::Value::kDoubleValue:
      return Value(value.double_value());
    case proto::Value::kStringValue:
      return Value(value.string_value());
    case proto::Value::kBytesValue:
      return Value(Bytes{value.bytes_value()});
    case proto::Value::kListValue: {
      ValueList list;
      list.reserve(value.list_value().items_size());
      for (const proto::Value& item : value.list_value().items()) {
        absl::StatusOr<Value> v = FromProtoAtDepth(item, depth + 1);
        if (!v.ok()) return v.status();
        list.push_back(*std::move(v));
      }
      return Value(std::move(list));
    }
    case proto::Value::kDictValue: {
      ValueDict dict;
      for (const proto::DictEntry& entry : value.dict_value().entries()) {
        absl::StatusOr<Value> v = FromProtoAtDepth(entry.value(), depth + 1);
        if (!v.ok()) return v.status();
        if (!dict.emplace(entry.key(), *std::move(v)).second) {
          return absl::InvalidArgumentError(absl::StrCat(
              "dict value with duplicate key '", absl::CEscape(entry.key()),
              "'"));
        }
      }
      return Value(std::move(dict));
    }
    case proto::Value::kRefValue: {
      if (value.ref_value().object_id() == 0) {
        return absl::InvalidArgumentError("reference to object id 0");
      }
      return Value(ObjectRef{value.ref_value().object_id(),
                             value.ref_value().type(), nullptr});
    }
  }
  return absl::InvalidArgumentError("value of unknown kind");
}

}  // namespace

absl::StatusOr<Value> FromProto(const proto::Value& value) {
  return FromProtoAtDepth(value, 0);
}

}  // namespace syncstream::manager
