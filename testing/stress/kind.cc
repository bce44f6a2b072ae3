#include "testing/stress/kind.h"

#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace syncstream::stress {
namespace {

std::vector<std::unique_ptr<Kind>>& Registry() {
  static auto* kinds = new std::vector<std::unique_ptr<Kind>>();
  return *kinds;
}

}  // namespace

absl::string_view SpawnModeName(SpawnMode mode) {
  switch (mode) {
    case SpawnMode::kThreads: return "threads";
    case SpawnMode::kFork: return "fork";
    case SpawnMode::kExec: return "exec";
  }
  return "unknown";
}

absl::StatusOr<SpawnMode> ParseSpawnMode(absl::string_view name) {
  for (SpawnMode mode :
       {SpawnMode::kThreads, SpawnMode::kFork, SpawnMode::kExec}) {
    if (name == SpawnModeName(mode)) return mode;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown spawn mode '", name, "' (threads, fork or exec)"));
}

absl::StatusOr<std::unique_ptr<WorkerChannel>> Kind::OpenExecChannel(
    int worker, absl::string_view token) {
  return absl::FailedPreconditionError(
      absl::StrCat("stress kind '", name(), "' has no exec mode"));
}

bool RegisterKind(std::unique_ptr<Kind> kind) {
  if (FindKind(kind->name()) != nullptr) {
    fprintf(stderr, "stress: kind '%s' registered twice\n",
            std::string(kind->name()).c_str());
    abort();
  }
  Registry().push_back(std::move(kind));
  return true;
}

std::vector<Kind*> RegisteredKinds() {
  std::vector<Kind*> kinds;
  for (const auto& kind : Registry()) kinds.push_back(kind.get());
  std::sort(kinds.begin(), kinds.end(),
            [](Kind* a, Kind* b) { return a->name() < b->name(); });
  return kinds;
}

Kind* FindKind(absl::string_view name) {
  for (const auto& kind : Registry()) {
    if (kind->name() == name) return kind.get();
  }
  return nullptr;
}

}  // namespace syncstream::stress
