// Arbitrary bytes as a mirror's record batch (syncstream/host/internal/
// batch_codec.h), as the collector reads them from the network and from its
// store log: BatchReader::Open must never crash or read out of bounds; a
// batch it accepts must decode to exactly size() records, and those records,
// encoded again, must decode to the same records.
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
  // Copy to an exact-size heap buffer so ASan sees any overread.
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto reader = BatchReader::Open(bytes);
  if (!reader.ok()) return 0;
  std::vector<Record> records;
  Record record;
  while (reader->Next(&record)) {
    (void)syncstream::FormatRecord(record);
    records.push_back(record);
  }
  if (records.size() != reader->size()) std::abort();
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
