// Arbitrary bytes as a mirror's record batch (syncstream/host/internal/
// batch_codec.h), as the collector reads them from the network and from its
// store log: BatchReader::Open and DecodeBatch (the collector's one-pass
// decoder) must never crash or read out of bounds and must agree on what
// they accept; a batch they accept must decode to exactly size() records
// (the same through both), and those records, encoded again, must decode to
// the same records.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "syncstream/core/record.h"
#include "syncstream/host/internal/batch_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using syncstream::Record;
  using syncstream::host::internal::BatchEncoder;
  using syncstream::host::internal::BatchReader;
  using syncstream::host::internal::DecodeBatch;
  // Copy to an exact-size heap buffer so ASan sees any overread.
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto reader = BatchReader::Open(bytes);
  // Reused twice, as the collector reuses its vector batch after batch.
  std::vector<Record> decoded(3);
  decoded[0].sender = "stale";
  auto count = DecodeBatch(bytes, &decoded);
  if (count.ok() != reader.ok()) std::abort();
  if (!reader.ok()) return 0;
  if (*count != reader->size()) std::abort();
  std::vector<Record> records;
  Record record;
  while (reader->Next(&record)) {
    (void)syncstream::FormatRecord(record);
    records.push_back(record);
  }
  if (records.size() != reader->size()) std::abort();
  for (size_t i = 0; i < records.size(); ++i) {
    if (decoded[i] != records[i]) std::abort();
  }
  count = DecodeBatch(bytes, &decoded);
  if (!count.ok() || *count != records.size()) std::abort();
  for (size_t i = 0; i < records.size(); ++i) {
    if (decoded[i] != records[i]) std::abort();
  }
  std::string again;
  BatchEncoder encoder;
  encoder.Reset(&again);
  for (const Record& r : records) encoder.Add(r);
  auto reread = BatchReader::Open(again);
  if (!reread.ok() || reread->size() != records.size()) std::abort();
  for (const Record& r : records) {
    if (!reread->Next(&record) || record != r) std::abort();
  }
  if (reread->Next(&record)) std::abort();
  return 0;
}
