// HmacSha256 against RFC 4231's test cases and, for random keys and
// messages, against OpenSSL's HMAC (the reference; test-only).
#include "syncstream/net/internal/hmac_sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace syncstream::net::internal {
namespace {

std::string Hex(const HmacSha256::Digest& digest) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string OpenSslHex(absl::string_view key, absl::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       digest, &size);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), size));
}

struct Rfc4231Case {
  int number;
  std::string key;
  std::string data;
  std::string hmac_sha256_hex;  // case 5: the first 128 bits only
};

std::string Bytes(size_t n, uint8_t value) {
  return std::string(n, static_cast<char>(value));
}

TEST(HmacSha256Test, Rfc4231TestCases) {
  const Rfc4231Case cases[] = {
      {1, Bytes(20, 0x0b), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {2, "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {3, Bytes(20, 0xaa), Bytes(50, 0xdd),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {4, absl::HexStringToBytes("0102030405060708090a0b0c0d0e0f10111213141516"
                                 "171819"),
       Bytes(50, 0xcd),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {5, Bytes(20, 0x0c), "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b"},
      // 131-byte keys: longer than a block, hashed first.
      {6, Bytes(131, 0xaa),
       "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {7, Bytes(131, 0xaa),
       "This is a test using a larger than block-size key and a larger than "
       "block-size data. The key needs to be hashed before being used by the "
       "HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const Rfc4231Case& c : cases) {
    const std::string hex = Hex(HmacSha256::Compute(c.key, c.data));
    EXPECT_EQ(hex.substr(0, c.hmac_sha256_hex.size()), c.hmac_sha256_hex)
        << "RFC 4231 test case " << c.number;
  }
}

// Random keys and messages of 0-300 bytes (a block is 64: keys shorter,
// equal and longer; messages of one to several blocks), each message fed in
// two pieces split at a random point.
TEST(HmacSha256Test, RandomKeysAndMessagesMatchOpenSsl) {
  std::mt19937 random(20261122);
  std::uniform_int_distribution<size_t> length(0, 300);
  std::uniform_int_distribution<int> byte(0, 255);
  auto random_bytes = [&](size_t n) {
    std::string bytes(n, '\0');
    for (char& b : bytes) b = static_cast<char>(byte(random));
    return bytes;
  };
  for (int i = 0; i < 3000; ++i) {
    const std::string key = random_bytes(length(random));
    const std::string message = random_bytes(length(random));
    const size_t split =
        std::uniform_int_distribution<size_t>(0, message.size())(random);
    HmacSha256 mac(key);
    mac.Update(absl::string_view(message).substr(0, split));
    mac.Update(absl::string_view(message).substr(split));
    ASSERT_EQ(Hex(mac.Finish()), OpenSslHex(key, message))
        << "case " << i << ": key of " << key.size() << " bytes, message of "
        << message.size() << " split at " << split;
  }
}

}  // namespace
}  // namespace syncstream::net::internal
