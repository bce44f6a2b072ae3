// Arbitrary bytes as what a NATS server sends a syncstream client besides
// batches (syncstream/nats/internal/wire.h): a JetStream publish reply and a
// message's batch id. The parsers must never crash or read out of bounds; an
// accepted acknowledgement has a sequence, an accepted batch id formats back
// to exactly the bytes it was parsed from.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "syncstream/nats/internal/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using syncstream::nats::internal::FormatBatchId;
  using syncstream::nats::internal::ParseBatchId;
  using syncstream::nats::internal::ParsePubAck;
  // Exact-size heap copy so ASan sees any overread.
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto ack = ParsePubAck(bytes);
  if (ack.ok() && ack->sequence == 0) std::abort();
  auto id = ParseBatchId(bytes);
  if (id.ok() && FormatBatchId(id->mirror, id->batch) != bytes) std::abort();
  return 0;
}
