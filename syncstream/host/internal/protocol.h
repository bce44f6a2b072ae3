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

}  // namespace syncstream::host::internal

#endif  // SYNCSTREAM_HOST_INTERNAL_PROTOCOL_H_
