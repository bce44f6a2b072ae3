#include "syncstream/net/internal/proof.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "syncstream/net/internal/hmac_sha256.h"

namespace syncstream::net::internal {
namespace {

// Feeds `field` with its 4-byte big-endian length in front.
void AppendField(HmacSha256* mac, absl::string_view field) {
  const uint32_t n = static_cast<uint32_t>(field.size());
  const char prefix[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                          static_cast<char>(n >> 8), static_cast<char>(n)};
  mac->Update(absl::string_view(prefix, sizeof(prefix)));
  mac->Update(field);
}

}  // namespace

// From the kernel (getrandom), not OpenSSL's RAND_bytes: OpenSSL's shared
// generator takes a lock, and a process that forks while another of its
// threads holds it (a collector or manager handshaking) leaves the child
// blocked forever on its first handshake. The kernel's generator has no
// user-space state to inherit.
absl::StatusOr<std::string> RandomNonce() {
  std::string nonce(kNonceBytes, '\0');
  size_t filled = 0;
  while (filled < nonce.size()) {
    const ssize_t n = getrandom(&nonce[filled], nonce.size() - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat(
          "cannot draw a random nonce: getrandom: ", std::strerror(errno)));
    }
    filled += static_cast<size_t>(n);
  }
  return nonce;
}

// With syncstream's own HMAC-SHA256, not OpenSSL's HMAC(): OpenSSL 3 fetches
// the algorithms from a provider store guarded by locks, which a child forked
// while another thread holds one would inherit held, as with RAND_bytes.
std::string ComputeProof(const AuthKey& key, absl::string_view role,
                         absl::string_view service,
                         absl::string_view client_nonce,
                         absl::string_view server_nonce) {
  HmacSha256 mac(key.bytes());
  AppendField(&mac, role);
  AppendField(&mac, service);
  AppendField(&mac, client_nonce);
  AppendField(&mac, server_nonce);
  const HmacSha256::Digest digest = mac.Finish();
  return std::string(digest.begin(), digest.end());
}

// Every byte is compared whatever the earlier ones were, so the time taken
// does not tell an attacker how long a prefix of a forged proof was right.
// The accumulator is volatile so that the compiler cannot stop early either.
bool ProofsEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  volatile unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference = difference | (static_cast<unsigned char>(a[i]) ^
                               static_cast<unsigned char>(b[i]));
  }
  return difference == 0;
}

}  // namespace syncstream::net::internal
