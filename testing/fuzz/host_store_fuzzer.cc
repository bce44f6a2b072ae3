// Arbitrary bytes as the entries of a host collector's store log (what a
// damaged disk could hold): decoding never crashes, never reads past the
// input, and an entry that decodes re-encodes to the same bytes' meaning.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "syncstream/core/record.h"
#include "syncstream/host/internal/store_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  syncstream::proto::HostLogEntry entry;
  while (!bytes.empty()) {
    absl::StatusOr<size_t> used =
        syncstream::host::internal::DecodeStoreLogEntry(bytes, &entry);
    if (!used.ok() || *used == 0) break;
    if (*used > bytes.size()) std::abort();
    if (entry.has_batch()) {
      syncstream::Record record;
      for (const auto& message : entry.batch().batch().records()) {
        (void)syncstream::FromProto(message, &record);
      }
    }
    std::string again;
    if (!syncstream::host::internal::EncodeStoreLogEntry(entry, &again).ok()) {
      std::abort();
    }
    syncstream::proto::HostLogEntry reparsed;
    absl::StatusOr<size_t> reused =
        syncstream::host::internal::DecodeStoreLogEntry(again, &reparsed);
    if (!reused.ok() || *reused != again.size()) std::abort();
    bytes.remove_prefix(*used);
  }
  return 0;
}
