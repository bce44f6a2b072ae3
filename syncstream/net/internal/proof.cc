#include "syncstream/net/internal/proof.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace syncstream::net::internal {
namespace {

void AppendField(std::string* out, absl::string_view field) {
  uint32_t n = static_cast<uint32_t>(field.size());
  char prefix[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                    static_cast<char>(n >> 8), static_cast<char>(n)};
  out->append(prefix, 4);
  out->append(field.data(), field.size());
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

std::string ComputeProof(const AuthKey& key, absl::string_view role,
                         absl::string_view service,
                         absl::string_view client_nonce,
                         absl::string_view server_nonce) {
  std::string data;
  AppendField(&data, role);
  AppendField(&data, service);
  AppendField(&data, client_nonce);
  AppendField(&data, server_nonce);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  HMAC(EVP_sha256(), key.bytes().data(), static_cast<int>(key.bytes().size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       digest, &digest_length);
  return std::string(reinterpret_cast<const char*>(digest), digest_length);
}

bool ProofsEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace syncstream::net::internal
