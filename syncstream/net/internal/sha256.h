// Sha256: the SHA-256 hash function of FIPS 180-4, for the handshake's HMAC.
//
//   Sha256 hash;
//   hash.Update("ab");
//   hash.Update("c");
//   Sha256::Digest digest = hash.Finish();  // SHA-256("abc")
//
// Written here rather than taken from OpenSSL so that hashing takes no lock
// and touches no global state: a child forked while another thread of its
// parent hashes can hash too (OpenSSL 3 fetches its digests from a
// lock-guarded provider store, and a lock copied held by fork is held
// forever). No allocation; the state is wiped on destruction, since an HMAC
// keeps key-derived state in it.
//
// Thread safety: one object per thread; distinct objects are independent.
#ifndef SYNCSTREAM_NET_INTERNAL_SHA256_H_
#define SYNCSTREAM_NET_INTERNAL_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace syncstream::net::internal {

class Sha256 {
 public:
  static constexpr size_t kDigestBytes = 32;
  static constexpr size_t kBlockBytes = 64;
  using Digest = std::array<uint8_t, kDigestBytes>;

  // The hash of `data` in one call.
  static Digest Hash(absl::string_view data);

  // Ready for a message.
  Sha256() { Reset(); }
  ~Sha256();
  Sha256(const Sha256&) = default;
  Sha256& operator=(const Sha256&) = default;

  // Appends `data` to the message (any number of calls, any sizes; messages
  // up to 2^61 - 1 bytes).
  void Update(absl::string_view data);
  // Ends the message and returns its hash; the object is then ready for a
  // new message.
  Digest Finish();

 private:
  void Reset();
  // Mixes one kBlockBytes block into state_.
  void Compress(const uint8_t* block);

  uint32_t state_[8];
  uint64_t message_bytes_;        // bytes of the message so far
  uint8_t pending_[kBlockBytes];  // the incomplete last block
  size_t pending_bytes_;
};

}  // namespace syncstream::net::internal

#endif  // SYNCSTREAM_NET_INTERNAL_SHA256_H_
