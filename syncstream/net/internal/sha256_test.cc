// Sha256 against FIPS 180-4's examples and, around the block boundaries and
// in pieces, against OpenSSL's SHA256 (the reference; test-only).
#include "syncstream/net/internal/sha256.h"

#include <openssl/sha.h>

#include <string>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace syncstream::net::internal {
namespace {

std::string Hex(const Sha256::Digest& digest) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string OpenSslHex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

// Bytes that differ from position to position (so a misplaced byte shows).
std::string Message(size_t size) {
  std::string message(size, '\0');
  for (size_t i = 0; i < size; ++i) message[i] = static_cast<char>(i * 7 + 1);
  return message;
}

TEST(Sha256Test, FipsExamples) {
  EXPECT_EQ(Hex(Sha256::Hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 448 bits: the padding needs a second block.
  EXPECT_EQ(Hex(Sha256::Hash(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(Sha256::Hash(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(Hex(Sha256::Hash("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, MillionAsFedInUnevenPieces) {
  Sha256 hash;
  const std::string piece(997, 'a');
  size_t fed = 0;
  while (fed < 1000000) {
    const size_t n = std::min(piece.size(), 1000000 - fed);
    hash.Update(absl::string_view(piece).substr(0, n));
    fed += n;
  }
  EXPECT_EQ(Hex(hash.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// 55 bytes is the longest message whose padding fits in its block; 56-63
// need a second block; 64 is exactly one.
TEST(Sha256Test, LengthsAroundTheBlockBoundariesMatchOpenSsl) {
  for (size_t size : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129}) {
    const std::string message = Message(size);
    EXPECT_EQ(Hex(Sha256::Hash(message)), OpenSslHex(message))
        << size << " bytes";
  }
}

TEST(Sha256Test, AnySplitOfAMessageHashesAlike) {
  const std::string message = Message(200);
  const std::string expected = OpenSslHex(message);
  for (size_t split = 0; split <= message.size(); ++split) {
    Sha256 hash;
    hash.Update(absl::string_view(message).substr(0, split));
    hash.Update(absl::string_view(message).substr(split));
    EXPECT_EQ(Hex(hash.Finish()), expected) << "split at " << split;
  }
}

TEST(Sha256Test, FinishStartsANewMessage) {
  Sha256 hash;
  hash.Update("some earlier message");
  hash.Finish();
  hash.Update("abc");
  EXPECT_EQ(Hex(hash.Finish()), Hex(Sha256::Hash("abc")));
}

}  // namespace
}  // namespace syncstream::net::internal
