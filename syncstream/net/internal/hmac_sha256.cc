#include "syncstream/net/internal/hmac_sha256.h"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstdint>

namespace syncstream::net::internal {
namespace {

constexpr uint8_t kInnerPad = 0x36;
constexpr uint8_t kOuterPad = 0x5c;

absl::string_view AsBytes(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace

HmacSha256::Digest HmacSha256::Compute(absl::string_view key,
                                       absl::string_view message) {
  HmacSha256 mac(key);
  mac.Update(message);
  return mac.Finish();
}

HmacSha256::HmacSha256(absl::string_view key) {
  // K0: the key, or its hash if longer than a block, zero-padded to a block.
  uint8_t block_key[Sha256::kBlockBytes] = {};
  if (key.size() > Sha256::kBlockBytes) {
    Digest hashed = Sha256::Hash(key);
    std::copy(hashed.begin(), hashed.end(), block_key);
    explicit_bzero(hashed.data(), hashed.size());
  } else {
    std::copy(key.begin(), key.end(), block_key);
  }
  uint8_t padded[Sha256::kBlockBytes];
  for (size_t i = 0; i < Sha256::kBlockBytes; ++i) {
    padded[i] = block_key[i] ^ kInnerPad;
  }
  inner_.Update(AsBytes(padded, sizeof(padded)));
  for (size_t i = 0; i < Sha256::kBlockBytes; ++i) {
    padded[i] = block_key[i] ^ kOuterPad;
  }
  outer_.Update(AsBytes(padded, sizeof(padded)));
  explicit_bzero(padded, sizeof(padded));
  explicit_bzero(block_key, sizeof(block_key));
}

HmacSha256::Digest HmacSha256::Finish() {
  Digest inner_hash = inner_.Finish();
  outer_.Update(AsBytes(inner_hash.data(), inner_hash.size()));
  explicit_bzero(inner_hash.data(), inner_hash.size());
  return outer_.Finish();
}

}  // namespace syncstream::net::internal
