// A stand-in for libFuzzer's driver, so every fuzz target also runs as an
// ordinary test: it feeds the target each file named on the command line (the
// seed corpus), then `--iterations` inputs made by a fixed-seed generator:
// random bytes, and corpus entries with bytes flipped, inserted, removed,
// truncated and duplicated. A crash, sanitizer report or hang (the test's
// timeout) fails the test. Deterministic: the same inputs on every run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
    __attribute__((weak));

namespace {

using Input = std::vector<uint8_t>;

void RunOne(const Input& input) {
  // Copy into an exactly sized heap block so ASan catches overreads.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() + 1]);
  if (!input.empty()) std::memcpy(copy.get(), input.data(), input.size());
  LLVMFuzzerTestOneInput(input.empty() ? nullptr : copy.get(), input.size());
}

Input Mutate(const Input& base, std::mt19937_64& rng) {
  Input out = base;
  std::uniform_int_distribution<int> op(0, 5);
  int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits; ++e) {
    size_t pos = out.empty() ? 0 : rng() % (out.size() + 1);
    switch (op(rng)) {
      case 0:  // flip a bit
        if (!out.empty()) out[pos % out.size()] ^= 1u << (rng() % 8);
        break;
      case 1:  // overwrite with an interesting byte
        if (!out.empty()) {
          static const uint8_t kBytes[] = {0, 1, 0x7f, 0x80, 0xff, '\n'};
          out[pos % out.size()] = kBytes[rng() % sizeof(kBytes)];
        }
        break;
      case 2:  // insert random bytes
        out.insert(out.begin() + pos, 1 + rng() % 4, static_cast<uint8_t>(rng()));
        break;
      case 3:  // remove a range
        if (!out.empty()) {
          size_t len = 1 + rng() % std::min<size_t>(out.size() - pos % out.size(), 16);
          size_t at = pos % out.size();
          out.erase(out.begin() + at, out.begin() + std::min(out.size(), at + len));
        }
        break;
      case 4:  // truncate
        out.resize(pos);
        break;
      case 5:  // duplicate a block
        if (!out.empty()) {
          size_t at = pos % out.size();
          size_t len = std::min<size_t>(out.size() - at, 1 + rng() % 32);
          Input block(out.begin() + at, out.begin() + at + len);
          out.insert(out.begin() + at, block.begin(), block.end());
        }
        break;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  long iterations = 20000;
  std::vector<Input> corpus;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--iterations=", 13) == 0) {
      iterations = std::strtol(argv[i] + 13, nullptr, 10);
      continue;
    }
    if (argv[i][0] == '-') continue;  // libFuzzer-style flags: ignored
    std::ifstream file(argv[i], std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 1;
    }
    corpus.emplace_back(std::istreambuf_iterator<char>(file),
                        std::istreambuf_iterator<char>());
  }
  for (const Input& input : corpus) RunOne(input);
  RunOne(Input());
  std::mt19937_64 rng(0x5eed5eedULL);
  for (long i = 0; i < iterations; ++i) {
    if (!corpus.empty() && rng() % 4 != 0) {
      RunOne(Mutate(corpus[rng() % corpus.size()], rng));
    } else {
      Input random(rng() % 512);
      for (uint8_t& b : random) b = static_cast<uint8_t>(rng());
      RunOne(random);
    }
  }
  std::printf("replay: %zu corpus inputs and %ld generated inputs, no failure\n",
              corpus.size(), iterations);
  return 0;
}
