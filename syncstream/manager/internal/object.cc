#include "syncstream/manager/internal/object.h"

#include "absl/strings/str_cat.h"

namespace syncstream::manager::internal {

std::string OwnerName(const Owner& owner) {
  return absl::StrCat("client ", owner.session, " thread ", owner.thread);
}

absl::Status CheckArgs(const ManagedObject& object, absl::string_view method,
                       const std::vector<Value>& args, size_t min,
                       size_t max) {
  if (args.size() >= min && args.size() <= max) return absl::OkStatus();
  std::string wanted = min == max ? absl::StrCat(min)
                                  : absl::StrCat(min, " to ", max);
  return absl::InvalidArgumentError(
      absl::StrCat(object.label(), ": ", method, " takes ", wanted,
                   " argument(s), got ", args.size()));
}

}  // namespace syncstream::manager::internal
