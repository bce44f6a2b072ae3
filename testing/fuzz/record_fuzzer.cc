// Arbitrary bytes as a serialized syncstream.proto.RecordBatch: parsing and
// validation (FromProto) must never crash, and a record that validates must
// survive a round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "syncstream/core/record.h"
#include "syncstream/proto/record.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  syncstream::proto::RecordBatch batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;
  for (const syncstream::proto::Record& message : batch.records()) {
    absl::StatusOr<syncstream::Record> record =
        syncstream::FromProto(message);
    if (!record.ok()) continue;
    absl::StatusOr<syncstream::Record> again =
        syncstream::FromProto(syncstream::ToProto(*record));
    if (!again.ok() || *again != *record) std::abort();
    (void)syncstream::FormatRecord(*record);
  }
  return 0;
}
