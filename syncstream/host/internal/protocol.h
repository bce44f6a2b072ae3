// Constants shared by the collector, the mirror and the reader.
#ifndef SYNCSTREAM_HOST_INTERNAL_PROTOCOL_H_
#define SYNCSTREAM_HOST_INTERNAL_PROTOCOL_H_

#include "absl/status/status.h"
#include "syncstream/proto/host.pb.h"

namespace syncstream::host::internal {

// The transport service name of the host buffers.
inline constexpr char kHostService[] = "host";

// The status a Failure reply carries.
inline absl::Status FailureStatus(const proto::Failure& failure) {
  return absl::Status(static_cast<absl::StatusCode>(failure.code()),
                      failure.message());
}

// Empties `request` for the next Connection::ReceiveMerging. A batch keeps
// its records string (and its storage) for the next batch to reuse: Clear()
// would free it, and the next parse allocate it again.
inline void ClearForReuse(proto::HostRequest* request) {
  if (request->request_case() == proto::HostRequest::kBatch) {
    // Not MirrorBatch::Clear(): the string would lose its storage.
    request->clear_request_id();
    request->mutable_batch()->clear_sequence();
    request->mutable_batch()->mutable_records()->clear();
  } else {
    request->Clear();
  }
}

}  // namespace syncstream::host::internal

#endif  // SYNCSTREAM_HOST_INTERNAL_PROTOCOL_H_
