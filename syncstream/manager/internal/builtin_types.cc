#include "syncstream/manager/internal/builtin_types.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/manager/internal/data_objects.h"
#include "syncstream/manager/internal/sync_objects.h"

namespace syncstream::manager::internal {
namespace {

absl::Status TooMany(absl::string_view type, size_t max, size_t got) {
  return absl::InvalidArgumentError(absl::StrCat(
      "creating a ", type, ": takes at most ", max, " argument(s), got ", got));
}

// The optional int argument at `i`, or `fallback`.
absl::StatusOr<int64_t> IntArg(absl::string_view type, absl::string_view what,
                               const std::vector<Value>& args, size_t i,
                               int64_t fallback) {
  if (args.size() <= i) return fallback;
  return args[i].GetInt(absl::StrCat("creating a ", type, ": ", what));
}

}  // namespace

bool IsBuiltinType(absl::string_view type) {
  return type == "lock" || type == "rlock" || type == "semaphore" ||
         type == "bounded_semaphore" || type == "event" ||
         type == "condition" || type == "barrier" || type == "queue" ||
         type == "list" || type == "dict" || type == "value" ||
         type == "namespace";
}

absl::StatusOr<std::shared_ptr<ManagedObject>> CreateBuiltin(
    absl::string_view type, std::vector<Value> args,
    ReferenceKeeper* references) {
  const bool no_args_type = type == "lock" || type == "rlock" ||
                            type == "event" || type == "condition";
  if (no_args_type) {
    if (!args.empty()) return TooMany(type, 0, args.size());
    if (type == "lock") return NewLock();
    if (type == "rlock") return NewRLock();
    if (type == "event") return NewEvent();
    return NewCondition();
  }
  if (args.size() > 1) return TooMany(type, 1, args.size());
  if (type == "semaphore" || type == "bounded_semaphore") {
    absl::StatusOr<int64_t> value = IntArg(type, "value", args, 0, 1);
    if (!value.ok()) return value.status();
    if (*value < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "creating a ", type, ": value must be >= 0, got ", *value));
    }
    return NewSemaphore(*value, type == "bounded_semaphore");
  }
  if (type == "barrier") {
    if (args.empty()) {
      return absl::InvalidArgumentError("creating a barrier: give parties");
    }
    absl::StatusOr<int64_t> parties = IntArg(type, "parties", args, 0, 0);
    if (!parties.ok()) return parties.status();
    if (*parties < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "creating a barrier: parties must be >= 1, got ", *parties));
    }
    return NewBarrier(*parties);
  }
  if (type == "queue") {
    absl::StatusOr<int64_t> maxsize = IntArg(type, "maxsize", args, 0, 0);
    if (!maxsize.ok()) return maxsize.status();
    return NewQueue(*maxsize);
  }
  Value initial = args.empty() ? Value() : std::move(args[0]);
  if (type == "list" && !initial.is_list() && !initial.is_null()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "creating a list: initial items must be a list, got ",
        ValueKindName(initial.kind())));
  }
  if ((type == "dict" || type == "namespace") && !initial.is_dict() &&
      !initial.is_null()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "creating a ", type, ": initial items must be a dict, got ",
        ValueKindName(initial.kind())));
  }
  if (type != "list" && type != "dict" && type != "namespace" &&
      type != "value") {
    return absl::InvalidArgumentError(
        absl::StrCat("no type '", type, "'"));
  }
  if (absl::Status s = references->RefAll(initial); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("creating a ", type, ": ", s.message()));
  }
  if (type == "list") {
    return NewList(initial.is_null() ? ValueList() : std::move(initial.as_list()));
  }
  if (type == "value") return NewValueObject(std::move(initial));
  ValueDict items =
      initial.is_null() ? ValueDict() : std::move(initial.as_dict());
  if (type == "dict") return NewDict(std::move(items));
  return NewNamespace(std::move(items));
}

}  // namespace syncstream::manager::internal
