// Arbitrary bytes as a LineProcMirror batch (syncstream/proc/internal/
// record_batch.h), as the buffer's collector reads them from shared memory:
// decoding must never crash or read out of bounds; a batch that decodes must
// re-encode to the same bytes (the format has one encoding per batch), and
// must deliver exactly `record_count` records. The collector's way (one
// ValidatedBatch decoded into a scratch Record reused from input to input,
// as readers of its store reuse theirs) must agree with the fresh decode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "syncstream/proc/internal/record_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace syncstream;
  using namespace syncstream::proc_internal;
  // Copy to an exact-size heap buffer so ASan sees any overread.
  std::string bytes(reinterpret_cast<const char*>(data), size);
  BatchHeader header;
  std::vector<Record> records;
  absl::Status status = DecodeRecordBatch(
      bytes, &header, [&](const Record& r) { records.push_back(r); });
  // The collector's way: one ValidatedBatch, decoded into a scratch Record
  // reused from input to input, in an order of its own (last record first).
  absl::StatusOr<std::shared_ptr<const ValidatedBatch>> batch =
      ValidatedBatch::Copy(bytes);
  static Record* scratch = new Record;
  if (batch.ok() != status.ok()) std::abort();
  if (!status.ok()) {
    if (!records.empty()) std::abort();  // nothing delivered on error
    return 0;
  }
  if (records.size() != header.record_count) std::abort();
  if ((*batch)->size() != records.size()) std::abort();
  for (size_t i = records.size(); i-- > 0;) {
    (*batch)->Decode(i, scratch);
    if (*scratch != records[i]) std::abort();
  }
  RecordBatchEncoder encoder;
  BatchHeader again = header;
  again.record_count = 0;
  again.flags = 0;
  encoder.Reset(again);
  for (const Record& r : records) {
    (void)FormatRecord(r);
    encoder.Add(r);
  }
  encoder.AddFlags(header.flags);
  // The reserved header word is not decoded: compare everything else.
  std::string encoded(encoder.bytes());
  if (encoded.size() != bytes.size()) std::abort();
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i >= 28 && i < 32) continue;
    if (encoded[i] != bytes[i]) std::abort();
  }
  return 0;
}
