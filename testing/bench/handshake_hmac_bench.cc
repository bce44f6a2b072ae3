// The handshake's proof (HMAC-SHA256 over role, service and both nonces):
// CPU time per proof of syncstream's own HMAC-SHA256, beside OpenSSL's
// HMAC(EVP_sha256(), ...) over the same bytes (the baseline: what the
// handshake used before), and the ratio. A handshake computes two proofs on
// each side.
//
//   ./bazelw run -c opt //testing/bench:handshake_hmac
//
// Figures are thread CPU time (CLOCK_THREAD_CPUTIME_ID), the median of 5
// rounds, so they depend little on the machine's load.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "syncstream/net/auth_key.h"
#include "syncstream/net/internal/hmac_sha256.h"
#include "syncstream/net/internal/proof.h"
#include "testing/bench/bench_clock.h"

namespace syncstream::net::internal {
namespace {

constexpr int kRounds = 5;
constexpr int kProofsPerRound = 200000;

double ThreadCpuNanos() {
  return static_cast<double>(syncstream::bench::ClockNanos(CLOCK_THREAD_CPUTIME_ID));
}

// Median CPU ns per call of `proof`, which returns a byte of its result (so
// that the work cannot be optimized away).
double MedianNanosPerProof(const std::function<uint8_t()>& proof) {
  volatile uint8_t sink = 0;
  std::vector<double> rounds;
  for (int r = 0; r < kRounds; ++r) {
    const double start = ThreadCpuNanos();
    for (int i = 0; i < kProofsPerRound; ++i) sink = sink ^ proof();
    rounds.push_back((ThreadCpuNanos() - start) / kProofsPerRound);
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[kRounds / 2];
}

// The proof's input as ComputeProof lays it out: 4-byte big-endian length,
// then the field, for each of the four fields.
std::string ProofMessage(const std::vector<std::string>& fields) {
  std::string message;
  for (const std::string& field : fields) {
    const uint32_t n = static_cast<uint32_t>(field.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      message.push_back(static_cast<char>(n >> shift));
    }
    message += field;
  }
  return message;
}

int Run() {
  const std::string key_bytes(32, 'k');
  const AuthKey key = *AuthKey::FromBytes(key_bytes);
  const std::string service = "manager";
  const std::string client_nonce(kNonceBytes, 'c');
  const std::string server_nonce(kNonceBytes, 's');
  const std::string message =
      ProofMessage({kClientRole, service, client_nonce, server_nonce});

  const double openssl = MedianNanosPerProof([&] {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key_bytes.data(), static_cast<int>(key_bytes.size()),
         reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), digest, &size);
    return digest[0];
  });
  const double own = MedianNanosPerProof([&] {
    return HmacSha256::Compute(key_bytes, message)[0];
  });
  const double proof = MedianNanosPerProof([&] {
    return static_cast<uint8_t>(
        ComputeProof(key, kClientRole, service, client_nonce, server_nonce)[0]);
  });

  std::printf("proof input: %zu bytes, 32-byte key; CPU ns per proof, median "
              "of %d rounds of %d\n",
              message.size(), kRounds, kProofsPerRound);
  std::printf("  OpenSSL HMAC(EVP_sha256()) (baseline)  %8.0f ns\n", openssl);
  std::printf("  HmacSha256::Compute                    %8.0f ns  (%.2fx the "
              "baseline's time)\n",
              own, own / openssl);
  std::printf("  ComputeProof (as the handshake calls)  %8.0f ns  (%.2fx)\n",
              proof, proof / openssl);
  return 0;
}

}  // namespace
}  // namespace syncstream::net::internal

int main() { return syncstream::net::internal::Run(); }
