// What syncstream reads from NATS besides the batches themselves (those are
// host/internal/batch_codec.h): JetStream's publish acknowledgement (JSON)
// and the batch ids mirrors put in each message's Nats-Msg-Id header.
//
// Both come from the network and are untrusted: the parsers check every
// byte, never read past the input, and refuse what they do not understand
// (testing/fuzz/nats_wire_fuzzer.cc).
#ifndef SYNCSTREAM_NATS_INTERNAL_WIRE_H_
#define SYNCSTREAM_NATS_INTERNAL_WIRE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncstream::nats::internal {

inline constexpr char kMsgIdHeader[] = "Nats-Msg-Id";

// A stored (or recognised as already stored) batch.
struct PubAck {
  std::string stream;
  uint64_t sequence = 0;  // the stream sequence of the stored message
  bool duplicate = false;
};

// Parses a JetStream publish reply: {"stream":"S","seq":N[,"duplicate":true]}
// (other members are skipped). A reply carrying {"error":{"code":C,
// "err_code":E,"description":"..."}} becomes Unavailable for codes 503 and
// 500-599 (no leader, storage trouble: worth resending), FailedPrecondition
// otherwise, quoting the description. InvalidArgument for anything that is
// not such JSON (nesting beyond 8, trailing bytes, a missing "seq").
absl::StatusOr<PubAck> ParsePubAck(absl::string_view json);

// A batch's id: the mirror's id (32 lowercase hex digits) and its batch
// number, "<id>-<number>".
struct BatchId {
  std::string mirror;
  uint64_t batch = 0;
};
std::string FormatBatchId(absl::string_view mirror, uint64_t batch);
// InvalidArgument unless `text` is exactly that form (number 1 or more, no
// leading zeros).
absl::StatusOr<BatchId> ParseBatchId(absl::string_view text);

}  // namespace syncstream::nats::internal

#endif  // SYNCSTREAM_NATS_INTERNAL_WIRE_H_
