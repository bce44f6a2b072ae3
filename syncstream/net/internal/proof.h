// The handshake's cryptography: nonces and proofs. No OpenSSL: nonces come
// from the kernel, proofs from syncstream's own HMAC-SHA256, so neither
// takes a library lock that a child forked by a multi-threaded process could
// inherit held.
#ifndef SYNCSTREAM_NET_INTERNAL_PROOF_H_
#define SYNCSTREAM_NET_INTERNAL_PROOF_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/net/auth_key.h"

namespace syncstream::net::internal {

inline constexpr size_t kNonceBytes = 32;
inline constexpr char kServerRole[] = "syncstream-server";
inline constexpr char kClientRole[] = "syncstream-client";

// kNonceBytes from the kernel's cryptographic generator (getrandom; safe to
// call in a child forked while other threads draw nonces).
absl::StatusOr<std::string> RandomNonce();

// HMAC-SHA256(key, len(role) role len(service) service client_nonce
// server_nonce), each length a 4-byte big-endian prefix so no two distinct
// inputs concatenate alike.
std::string ComputeProof(const AuthKey& key, absl::string_view role,
                         absl::string_view service,
                         absl::string_view client_nonce,
                         absl::string_view server_nonce);

// Constant-time comparison (time independent of where the bytes differ);
// false on different lengths and for empty proofs.
bool ProofsEqual(absl::string_view a, absl::string_view b);

}  // namespace syncstream::net::internal

#endif  // SYNCSTREAM_NET_INTERNAL_PROOF_H_
