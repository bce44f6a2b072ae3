// Arbitrary bytes as a LineFileBuffer segment file and as a lock file: the
// decoders (syncstream/file/segment_format.h, lock_file.h) must never crash
// or read out of bounds, their reports must stay within the input, and every
// record they return must survive re-encoding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "syncstream/file/lock_file.h"
#include "syncstream/file/segment_format.h"

namespace {

using syncstream::file::DecodedSegment;

void CheckSegment(absl::string_view bytes, bool parse) {
  absl::StatusOr<DecodedSegment> decoded =
      syncstream::file::DecodeSegment(bytes, "fuzz", parse);
  if (!decoded.ok()) return;
  if (decoded->valid_end > bytes.size() ||
      decoded->valid_end < syncstream::file::kSegmentHeaderSize) {
    std::abort();
  }
  for (const auto& damage : decoded->damages) {
    if (damage.offset + damage.length > bytes.size() || damage.length == 0) {
      std::abort();
    }
  }
  if (!parse && !decoded->records.empty()) std::abort();
  // Re-encoding what was returned gives a clean segment of the same records.
  std::string again;
  syncstream::file::SegmentHeader header = decoded->header;
  std::string frames;
  syncstream::proto::Record scratch;
  for (const auto& record : decoded->records) {
    syncstream::file::AppendRecordFrame(record, &scratch, &frames);
  }
  header.record_count = static_cast<uint32_t>(decoded->records.size());
  header.payload_bytes = frames.size();
  syncstream::file::EncodeSegmentHeader(header, &again);
  again += frames;
  auto round = syncstream::file::DecodeSegment(again, "again");
  if (!round.ok() || !round->damages.empty() ||
      round->records != decoded->records) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckSegment(bytes, /*parse=*/true);
  CheckSegment(bytes, /*parse=*/false);
  auto holder = syncstream::file::DecodeLockHolder(bytes, "fuzz");
  if (holder.ok()) {
    auto again = syncstream::file::DecodeLockHolder(
        syncstream::file::EncodeLockHolder(*holder), "again");
    if (!again.ok() || again->nonce != holder->nonce ||
        again->generation != holder->generation) {
      std::abort();
    }
  }
  return 0;
}
