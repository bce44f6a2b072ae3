#include "syncstream/manager/internal/user_object.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace syncstream::manager::internal {
namespace {

class UserObject : public ManagedObject {
 public:
  UserObject(std::shared_ptr<const UserTypeDefinition> type,
             std::shared_ptr<void> state)
      : ManagedObject(type->name),
        definition_(std::move(type)),
        state_(std::move(state)) {}

  absl::StatusOr<Value> Call(CallContext& ctx, absl::string_view method,
                             std::vector<Value>& args) override {
    auto it = definition_->methods.find(method);
    if (it == definition_->methods.end()) return BadMethod(method);
    const UserCall call{args, ctx.deadline};
    if (it->second.concurrent) {
      if (ctx.cancelled()) {
        return absl::CancelledError(
            absl::StrCat(label(), ": ", method, " cancelled (client gone)"));
      }
      if (!ctx.may_block) {
        ctx.would_block = true;
        return absl::UnavailableError("would block");
      }
      return it->second.run(state_.get(), call);
    }
    std::lock_guard<std::mutex> lock(mu_);
    return it->second.run(state_.get(), call);
  }

  ObjectInfo Describe() override { return ObjectInfo(); }

 private:
  const std::shared_ptr<const UserTypeDefinition> definition_;
  const std::shared_ptr<void> state_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<ManagedObject>> NewUserObject(
    std::shared_ptr<const UserTypeDefinition> type,
    const std::vector<Value>& args) {
  if (!type->factory) {
    return absl::FailedPreconditionError(
        absl::StrCat("user type '", type->name, "' has no factory"));
  }
  absl::StatusOr<std::shared_ptr<void>> state = type->factory(args);
  if (!state.ok()) {
    return absl::Status(state.status().code(),
                        absl::StrCat("creating a ", type->name, ": ",
                                     state.status().message()));
  }
  return std::shared_ptr<ManagedObject>(
      std::make_shared<UserObject>(std::move(type), *std::move(state)));
}

}  // namespace syncstream::manager::internal
