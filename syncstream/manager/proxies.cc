#include "syncstream/manager/proxies.h"

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/manager/method_names.h"

namespace syncstream::manager {

namespace {

absl::Status WrongKind(absl::string_view method, absl::string_view wanted,
                       const Value& got) {
  return absl::DataLossError(absl::StrCat("manager reply to ", method,
                                          ": expected ", wanted, ", got ",
                                          got.DebugString()));
}

}  // namespace

absl::StatusOr<int64_t> ObjectProxy::CallInt(absl::string_view method,
                                             std::vector<Value> args) const {
  absl::StatusOr<Value> v = CallValue(method, std::move(args));
  if (!v.ok()) return v.status();
  if (!v->is_int()) return WrongKind(method, "an int", *v);
  return v->as_int();
}

absl::StatusOr<bool> ObjectProxy::CallBool(absl::string_view method) const {
  absl::StatusOr<Value> v = CallValue(method);
  if (!v.ok()) return v.status();
  if (!v->is_bool()) return WrongKind(method, "a bool", *v);
  return v->as_bool();
}

absl::Status Condition::WaitFor(
    const std::function<absl::StatusOr<bool>()>& predicate,
    absl::Duration timeout) const {
  const absl::Time deadline = DeadlineAfter(timeout);
  for (;;) {
    absl::StatusOr<bool> done = predicate();
    if (!done.ok()) return done.status();
    if (*done) return absl::OkStatus();
    absl::Duration left = TimeLeft(deadline);
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("condition #", id(), ": predicate still false after ",
                       absl::FormatDuration(timeout)));
    }
    absl::Status waited = Wait(left);
    if (!waited.ok() && !absl::IsDeadlineExceeded(waited)) return waited;
  }
}

absl::StatusOr<int64_t> Barrier::Wait(absl::Duration timeout) const {
  absl::StatusOr<Value> v = CallValue(methods::kWait, {}, timeout);
  if (!v.ok()) return v.status();
  if (!v->is_int()) return WrongKind("wait", "an int", *v);
  return v->as_int();
}

absl::StatusOr<bool> List::Contains(Value v) const {
  absl::StatusOr<Value> got = CallValue(methods::kContains, {std::move(v)});
  if (!got.ok()) return got.status();
  if (!got->is_bool()) return WrongKind("contains", "a bool", *got);
  return got->as_bool();
}

absl::StatusOr<ValueList> List::GetAll() const {
  absl::StatusOr<Value> got = CallValue(methods::kGetAll);
  if (!got.ok()) return got.status();
  if (!got->is_list()) return WrongKind("get_all", "a list", *got);
  return std::move(got->as_list());
}

absl::StatusOr<bool> Dict::Contains(const std::string& key) const {
  absl::StatusOr<Value> got = CallValue(methods::kContains, {Value(key)});
  if (!got.ok()) return got.status();
  if (!got->is_bool()) return WrongKind("contains", "a bool", *got);
  return got->as_bool();
}

absl::StatusOr<ValueList> Dict::Keys() const {
  absl::StatusOr<Value> got = CallValue(methods::kKeys);
  if (!got.ok()) return got.status();
  if (!got->is_list()) return WrongKind("keys", "a list", *got);
  return std::move(got->as_list());
}

absl::StatusOr<ValueDict> Dict::GetAll() const {
  absl::StatusOr<Value> got = CallValue(methods::kGetAll);
  if (!got.ok()) return got.status();
  if (!got->is_dict()) return WrongKind("get_all", "a dict", *got);
  return std::move(got->as_dict());
}

absl::StatusOr<ValueDict> Namespace::GetAll() const {
  absl::StatusOr<Value> got = CallValue(methods::kGetAll);
  if (!got.ok()) return got.status();
  if (!got->is_dict()) return WrongKind("get_all", "a dict", *got);
  return std::move(got->as_dict());
}

}  // namespace syncstream::manager
