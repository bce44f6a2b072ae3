#include "testing/stress/line_check.h"

#include <zlib.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace syncstream::stress {
namespace {

constexpr absl::string_view kMarker = "ss1 ";
constexpr size_t kCrcField = 9;  // " " + 8 hex digits
constexpr size_t kMaxKeptInvalid = 4096;
constexpr size_t kMaxProblems = 10;
// Sequence numbers beyond this are garbage, not a reason to allocate.
constexpr uint64_t kMaxSeq = uint64_t{1} << 34;

size_t Digits(uint64_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

size_t HeaderLength(absl::string_view kind, int worker, uint64_t seq) {
  return kMarker.size() + kind.size() + 2 + Digits(worker) + 2 + Digits(seq) +
         1;
}

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(absl::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

uint32_t Crc32(absl::string_view text) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(text.data()),
            static_cast<uInt>(text.size())));
}

bool ParseDecimal(absl::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

std::string Excerpt(absl::string_view line) {
  constexpr size_t kMax = 72;
  std::string shown = absl::CHexEscape(line.substr(0, kMax));
  return absl::StrCat("\"", shown, line.size() > kMax ? "...\"" : "\"", " (",
                      line.size(), " bytes)");
}

}  // namespace

size_t LineLength(const LineSpec& spec, int worker, uint64_t seq) {
  return std::max(spec.length,
                  HeaderLength(spec.kind, worker, seq) + kCrcField);
}

size_t MinLineLength(absl::string_view kind, int workers, uint64_t lines) {
  return HeaderLength(kind, std::max(workers - 1, 0),
                      lines > 0 ? lines - 1 : 0) +
         kCrcField;
}

std::string MakeLine(const LineSpec& spec, int worker, uint64_t seq) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const size_t total = LineLength(spec, worker, seq);
  std::string line;
  line.reserve(total);
  absl::StrAppend(&line, kMarker, spec.kind, " w", worker, " s", seq, " ");
  const size_t payload = total - line.size() - kCrcField;
  uint64_t state = spec.seed ^ Fnv1a(spec.kind) ^
                   (static_cast<uint64_t>(worker) * 0xd1b54a32d192ed03ULL) ^
                   (seq * 0x8cb92ba72f3d8dd7ULL);
  uint64_t bits = 0;
  int left = 0;
  for (size_t i = 0; i < payload; ++i) {
    if (left == 0) {
      bits = SplitMix(state);
      left = 10;  // 62^10 < 2^64
    }
    line.push_back(kAlphabet[bits % 62]);
    bits /= 62;
    --left;
  }
  absl::StrAppendFormat(&line, " %08x", Crc32(line));
  return line;
}

absl::StatusOr<ParsedLine> ParseLine(absl::string_view line) {
  if (!absl::StartsWith(line, kMarker)) {
    return absl::InvalidArgumentError("no 'ss1 ' line start");
  }
  absl::string_view fields[6];
  size_t count = 0;
  size_t start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ' ') {
      if (count == 6) return absl::InvalidArgumentError("too many fields");
      fields[count++] = line.substr(start, i - start);
      start = i + 1;
    }
  }
  if (count != 6) return absl::InvalidArgumentError("too few fields");
  ParsedLine parsed;
  parsed.kind = fields[1];
  uint64_t worker = 0;
  if (parsed.kind.empty()) return absl::InvalidArgumentError("empty kind");
  if (fields[2].size() < 2 || fields[2][0] != 'w' ||
      !ParseDecimal(fields[2].substr(1), &worker) || worker > (1u << 30)) {
    return absl::InvalidArgumentError("bad worker field");
  }
  parsed.worker = static_cast<int>(worker);
  if (fields[3].size() < 2 || fields[3][0] != 's' ||
      !ParseDecimal(fields[3].substr(1), &parsed.seq)) {
    return absl::InvalidArgumentError("bad sequence field");
  }
  for (char c : fields[4]) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("bad payload byte");
    }
  }
  uint32_t crc = 0;
  if (fields[5].size() != 8) return absl::InvalidArgumentError("bad checksum");
  for (char c : fields[5]) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return absl::InvalidArgumentError("bad checksum");
    }
    crc = (crc << 4) | v;
  }
  if (crc != Crc32(line.substr(0, line.size() - kCrcField))) {
    return absl::InvalidArgumentError("checksum mismatch");
  }
  return parsed;
}

LineChecker::LineChecker(LineSpec spec, int workers)
    : spec_(std::move(spec)), workers_(std::max(workers, 0)) {}

void LineChecker::Problem(std::string text) {
  if (problems_.size() < kMaxProblems) problems_.push_back(std::move(text));
}

void LineChecker::Add(absl::string_view line) {
  ++counts_.received;
  absl::StatusOr<ParsedLine> parsed = ParseLine(line);
  absl::string_view why;
  if (!parsed.ok()) {
    // Classified in Finish: a killed worker's truncated tail, glued or
    // garbled.
    if (invalid_.size() < kMaxKeptInvalid) {
      invalid_.emplace_back(line);
    } else {
      ++counts_.garbled;
      Problem(absl::StrCat("garbled (", parsed.status().message(),
                           "): ", Excerpt(line)));
    }
    return;
  }
  if (parsed->kind != spec_.kind) {
    why = "line of another kind";
  } else if (parsed->worker >= static_cast<int>(workers_.size())) {
    why = "no such worker";
  } else if (parsed->seq >= kMaxSeq) {
    why = "sequence number out of range";
  } else if (line.size() != LineLength(spec_, parsed->worker, parsed->seq)) {
    why = "wrong length";
  }
  if (!why.empty()) {
    ++counts_.garbled;
    Problem(absl::StrCat("garbled (", why, "): ", Excerpt(line)));
    return;
  }
  WorkerState& w = workers_[parsed->worker];
  const uint64_t seq = parsed->seq;
  if (seq >= w.seen.size()) {
    w.seen.resize(std::max<uint64_t>(seq + 1, w.seen.size() * 2), false);
  }
  if (w.seen[seq]) {
    ++counts_.duplicated;
    Problem(absl::StrCat("duplicated: worker ", parsed->worker, " line ", seq));
    return;
  }
  w.seen[seq] = true;
  ++w.distinct;
  ++counts_.valid;
  if (seq + 1 < w.next) {
    ++counts_.out_of_order;
    Problem(absl::StrCat("out of order: worker ", parsed->worker, " line ", seq,
                         " after line ", w.next - 1));
  } else {
    w.next = seq + 1;
  }
}

CheckResult LineChecker::Finish(
    const std::vector<WorkerExpectation>& expectations) {
  std::vector<bool> tail_used(workers_.size(), false);
  for (const std::string& line : invalid_) {
    bool truncated = false;
    for (size_t w = 0; w < workers_.size() && w < expectations.size(); ++w) {
      if (!expectations[w].killed || tail_used[w]) continue;
      const std::string next = MakeLine(spec_, static_cast<int>(w),
                                        workers_[w].next);
      if (line.size() < next.size() && absl::StartsWith(next, line)) {
        truncated = true;
        tail_used[w] = true;
        break;
      }
    }
    if (truncated) {
      ++counts_.truncated;
      continue;
    }
    ++counts_.garbled;
    if (absl::string_view(line).find(kMarker, 1) != absl::string_view::npos) {
      ++counts_.glued;
      Problem(absl::StrCat("glued: ", Excerpt(line)));
    } else {
      Problem(absl::StrCat("garbled (", ParseLine(line).status().message(),
                           "): ", Excerpt(line)));
    }
  }
  invalid_.clear();

  for (size_t w = 0; w < workers_.size(); ++w) {
    WorkerState& state = workers_[w];
    WorkerExpectation expect;
    if (w < expectations.size()) expect = expectations[w];
    uint64_t must = expect.committed;
    if (expect.killed) {
      must = std::max(must, state.next);
    } else if (state.next > must) {
      const uint64_t extra = state.next - must;
      counts_.garbled += extra;
      Problem(absl::StrCat("garbled: worker ", w, " committed ", must,
                           " lines, yet line ", state.next - 1, " arrived"));
    }
    counts_.expected += must;
    state.seen.resize(std::max<uint64_t>(state.seen.size(), must), false);
    uint64_t run_start = 0;
    bool in_run = false;
    for (uint64_t seq = 0; seq <= must; ++seq) {
      const bool missing = seq < must && !state.seen[seq];
      if (missing) {
        ++counts_.lost;
        if (!in_run) run_start = seq;
        in_run = true;
      } else if (in_run) {
        in_run = false;
        Problem(seq - run_start == 1
                    ? absl::StrCat("lost: worker ", w, " line ", run_start)
                    : absl::StrCat("lost: worker ", w, " lines ", run_start,
                                   "-", seq - 1));
      }
    }
  }
  CheckResult result;
  result.counts = counts_;
  result.problems = problems_;
  return result;
}

}  // namespace syncstream::stress
