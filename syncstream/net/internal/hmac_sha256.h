// HmacSha256: HMAC (RFC 2104, FIPS 198-1) over SHA-256, the handshake's
// proof of key knowledge.
//
//   HmacSha256 mac(key.bytes());
//   mac.Update(field1);
//   mac.Update(field2);
//   HmacSha256::Digest tag = mac.Finish();
//
// Like Sha256 it takes no lock, touches no global state and allocates
// nothing, so it works in a child forked while other threads of the parent
// compute MACs. Keys of any length (longer than a block are hashed first, as
// the RFC says). The key-derived state is wiped on destruction.
//
// Thread safety: one object per thread; distinct objects are independent.
#ifndef SYNCSTREAM_NET_INTERNAL_HMAC_SHA256_H_
#define SYNCSTREAM_NET_INTERNAL_HMAC_SHA256_H_

#include "absl/strings/string_view.h"
#include "syncstream/net/internal/sha256.h"

namespace syncstream::net::internal {

class HmacSha256 {
 public:
  static constexpr size_t kDigestBytes = Sha256::kDigestBytes;
  using Digest = Sha256::Digest;

  // The MAC of `message` under `key` in one call.
  static Digest Compute(absl::string_view key, absl::string_view message);

  explicit HmacSha256(absl::string_view key);
  ~HmacSha256() = default;  // the Sha256 members wipe themselves
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // Appends `data` to the message.
  void Update(absl::string_view data) { inner_.Update(data); }
  // Ends the message and returns its MAC. Call once.
  Digest Finish();

 private:
  Sha256 inner_;  // fed (key ^ ipad) || message
  Sha256 outer_;  // fed (key ^ opad), then the inner hash
};

}  // namespace syncstream::net::internal

#endif  // SYNCSTREAM_NET_INTERNAL_HMAC_SHA256_H_
