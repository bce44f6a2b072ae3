#include "syncstream/proc/internal/channel.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace syncstream::proc_internal {

namespace {
constexpr absl::string_view kTokenPrefix = "sspm1";
}  // namespace

std::string FormatMirrorToken(const MirrorToken& token) {
  return absl::StrCat(kTokenPrefix, ":", token.queue_name, ":",
                      token.generation, ":", token.mirror_id, ":",
                      token.mirror_name);
}

absl::StatusOr<MirrorToken> ParseMirrorToken(absl::string_view text) {
  // The name is last and may itself contain ':'.
  std::vector<absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits(':', 4));
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mirror token '", text.substr(0, 200), "': ", why,
        " (expected sspm1:QUEUE:GENERATION:ID:NAME from "
        "LineProcMirror::token())"));
  };
  if (parts.size() != 5) return bad("not 5 fields");
  if (parts[0] != kTokenPrefix) return bad("unknown version");
  MirrorToken token;
  token.queue_name = std::string(parts[1]);
  if (token.queue_name.empty()) return bad("empty queue name");
  if (!absl::SimpleAtoi(parts[2], &token.generation)) {
    return bad("bad generation");
  }
  if (!absl::SimpleAtoi(parts[3], &token.mirror_id)) {
    return bad("bad mirror id");
  }
  token.mirror_name = std::string(parts[4]);
  if (token.mirror_name.empty()) return bad("empty mirror name");
  return token;
}

}  // namespace syncstream::proc_internal
