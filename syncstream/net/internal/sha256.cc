#include "syncstream/net/internal/sha256.h"

#include <string.h>  // explicit_bzero

#include <algorithm>

namespace syncstream::net::internal {
namespace {

// FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube
// roots of the first 64 primes.
constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// FIPS 180-4 5.3.3: the first 32 bits of the fractional parts of the square
// roots of the first 8 primes.
constexpr uint32_t kInitialState[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

inline uint32_t RotateRight(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

// FIPS 180-4 4.1.2.
inline uint32_t Choose(uint32_t x, uint32_t y, uint32_t z) {
  return (x & y) ^ (~x & z);
}
inline uint32_t Majority(uint32_t x, uint32_t y, uint32_t z) {
  return (x & y) ^ (x & z) ^ (y & z);
}
inline uint32_t BigSigma0(uint32_t x) {
  return RotateRight(x, 2) ^ RotateRight(x, 13) ^ RotateRight(x, 22);
}
inline uint32_t BigSigma1(uint32_t x) {
  return RotateRight(x, 6) ^ RotateRight(x, 11) ^ RotateRight(x, 25);
}
inline uint32_t SmallSigma0(uint32_t x) {
  return RotateRight(x, 7) ^ RotateRight(x, 18) ^ (x >> 3);
}
inline uint32_t SmallSigma1(uint32_t x) {
  return RotateRight(x, 17) ^ RotateRight(x, 19) ^ (x >> 10);
}

// One round on working variables a..h. Instead of shifting every variable
// down one place (h = g, ..., b = a), the round updates only the two that
// change, d (becoming the next e) and h (becoming the next a); the caller
// passes the variables in rotated order in the next round.
inline void Round(uint32_t a, uint32_t b, uint32_t c, uint32_t& d, uint32_t e,
                  uint32_t f, uint32_t g, uint32_t& h,
                  uint32_t constant_plus_schedule) {
  const uint32_t t1 =
      h + BigSigma1(e) + Choose(e, f, g) + constant_plus_schedule;
  const uint32_t t2 = BigSigma0(a) + Majority(a, b, c);
  d += t1;
  h = t1 + t2;
}

inline uint32_t LoadBigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void StoreBigEndian32(uint32_t v, uint8_t* p) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace

Sha256::Digest Sha256::Hash(absl::string_view data) {
  Sha256 hash;
  hash.Update(data);
  return hash.Finish();
}

Sha256::~Sha256() {
  explicit_bzero(state_, sizeof(state_));
  explicit_bzero(pending_, sizeof(pending_));
}

void Sha256::Reset() {
  std::copy(std::begin(kInitialState), std::end(kInitialState), state_);
  message_bytes_ = 0;
  pending_bytes_ = 0;
}

// FIPS 180-4 6.2.2: the message schedule W, then 64 rounds, eight per loop
// pass with the working variables' roles rotated instead of moved.
void Sha256::Compress(const uint8_t* block) {
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) w[t] = LoadBigEndian32(block + 4 * t);
  for (int t = 16; t < 64; ++t) {
    w[t] = SmallSigma1(w[t - 2]) + w[t - 7] + SmallSigma0(w[t - 15]) +
           w[t - 16];
  }
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
  for (int t = 0; t < 64; t += 8) {
    Round(a, b, c, d, e, f, g, h, kRoundConstants[t] + w[t]);
    Round(h, a, b, c, d, e, f, g, kRoundConstants[t + 1] + w[t + 1]);
    Round(g, h, a, b, c, d, e, f, kRoundConstants[t + 2] + w[t + 2]);
    Round(f, g, h, a, b, c, d, e, kRoundConstants[t + 3] + w[t + 3]);
    Round(e, f, g, h, a, b, c, d, kRoundConstants[t + 4] + w[t + 4]);
    Round(d, e, f, g, h, a, b, c, kRoundConstants[t + 5] + w[t + 5]);
    Round(c, d, e, f, g, h, a, b, kRoundConstants[t + 6] + w[t + 6]);
    Round(b, c, d, e, f, g, h, a, kRoundConstants[t + 7] + w[t + 7]);
  }
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
  state_[4] += e;
  state_[5] += f;
  state_[6] += g;
  state_[7] += h;
  explicit_bzero(w, sizeof(w));
}

void Sha256::Update(absl::string_view data) {
  const uint8_t* in = reinterpret_cast<const uint8_t*>(data.data());
  size_t left = data.size();
  message_bytes_ += left;
  if (pending_bytes_ > 0) {
    const size_t take = std::min(left, kBlockBytes - pending_bytes_);
    std::copy(in, in + take, pending_ + pending_bytes_);
    pending_bytes_ += take;
    in += take;
    left -= take;
    if (pending_bytes_ < kBlockBytes) return;
    Compress(pending_);
    pending_bytes_ = 0;
  }
  for (; left >= kBlockBytes; in += kBlockBytes, left -= kBlockBytes) {
    Compress(in);
  }
  std::copy(in, in + left, pending_);
  pending_bytes_ = left;
}

// FIPS 180-4 5.1.1: a 1 bit, zeros up to 8 bytes short of a block boundary,
// then the message length in bits as a 64-bit big-endian number.
Sha256::Digest Sha256::Finish() {
  const uint64_t message_bits = message_bytes_ * 8;
  pending_[pending_bytes_++] = 0x80;
  if (pending_bytes_ > kBlockBytes - 8) {
    std::fill(pending_ + pending_bytes_, pending_ + kBlockBytes, 0);
    Compress(pending_);
    pending_bytes_ = 0;
  }
  std::fill(pending_ + pending_bytes_, pending_ + kBlockBytes - 8, 0);
  StoreBigEndian32(static_cast<uint32_t>(message_bits >> 32),
                   pending_ + kBlockBytes - 8);
  StoreBigEndian32(static_cast<uint32_t>(message_bits),
                   pending_ + kBlockBytes - 4);
  Compress(pending_);
  Digest digest;
  for (int i = 0; i < 8; ++i) StoreBigEndian32(state_[i], &digest[4 * i]);
  Reset();
  return digest;
}

}  // namespace syncstream::net::internal
