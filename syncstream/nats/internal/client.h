// One connection to a NATS cluster with its JetStream context, owned (RAII),
// and the mapping of the C client's errors to absl::Status. Shared by the
// mirror link, the reader and stream administration in syncstream/nats/.
//
// Thread safety: the C client's connection and context may be used from
// several threads; a Client adds no state of its own after Connect.
#ifndef SYNCSTREAM_NATS_INTERNAL_CLIENT_H_
#define SYNCSTREAM_NATS_INTERNAL_CLIENT_H_

#include <nats/nats.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/nats/credentials.h"
#include "syncstream/nats/jetstream_address.h"

namespace syncstream::nats::internal {

// `context` and the client's description of `s` (with its last error
// text), as the matching absl code: NotFound, DeadlineExceeded, Unavailable
// (no server, no responders, disconnected), Unauthenticated (refused
// credentials), PermissionDenied, InvalidArgument, FailedPrecondition (TLS).
absl::Status FromNats(natsStatus s, absl::string_view context);
// The same for a JetStream API call that also reported `code` (0 if none):
// a missing stream is NotFound, a cluster without a leader Unavailable.
absl::Status FromJetStream(natsStatus s, jsErrCode code,
                           absl::string_view context);

// FailedPrecondition for a stream that does not exist, saying how to create
// it.
absl::Status StreamMissing(const JetStreamAddress& address);

// Milliseconds for the C client's timeouts (at least 1).
int64_t ToMillis(absl::Duration d);

class Client {
 public:
  // Connects to one of the address's servers within `timeout`, which also
  // bounds each JetStream API request later; `name` names the connection
  // (server monitoring shows it). Errors as FromNats, the message naming
  // the address.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const JetStreamAddress& address, const JetStreamCredentials& credentials,
      absl::Duration timeout, const std::string& name);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  natsConnection* connection() const { return connection_; }
  jsCtx* js() const { return js_; }
  const JetStreamAddress& address() const { return address_; }
  // The address as text, for messages.
  const std::string& name() const { return name_; }
  absl::Duration timeout() const { return timeout_; }

 private:
  Client(JetStreamAddress address, absl::Duration timeout);

  const JetStreamAddress address_;
  const std::string name_;
  const absl::Duration timeout_;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace syncstream::nats::internal

#endif  // SYNCSTREAM_NATS_INTERNAL_CLIENT_H_
