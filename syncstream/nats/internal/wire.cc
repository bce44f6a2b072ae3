#include "syncstream/nats/internal/wire.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace syncstream::nats::internal {
namespace {

constexpr int kMaxDepth = 8;
constexpr size_t kMirrorIdLength = 32;

// A small, strict JSON scanner for the one flat object JetStream replies
// with. Values it does not need are validated and skipped.
class JsonScanner {
 public:
  explicit JsonScanner(absl::string_view in) : in_(in) {}

  bool AtEnd() {
    SkipSpace();
    return in_.empty();
  }
  bool Consume(char c) {
    SkipSpace();
    if (in_.empty() || in_[0] != c) return false;
    in_.remove_prefix(1);
    return true;
  }
  bool Peek(char c) {
    SkipSpace();
    return !in_.empty() && in_[0] == c;
  }
  // A string, with escapes decoded (\uXXXX kept as '?').
  bool String(std::string* out) {
    if (!Consume('"')) return false;
    out->clear();
    while (!in_.empty()) {
      char c = in_[0];
      in_.remove_prefix(1);
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (in_.empty()) return false;
      c = in_[0];
      in_.remove_prefix(1);
      switch (c) {
        case '"': case '\\': case '/': out->push_back(c); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u':
          if (in_.size() < 4) return false;
          for (int i = 0; i < 4; ++i) {
            if (!absl::ascii_isxdigit(static_cast<unsigned char>(in_[i]))) {
              return false;
            }
          }
          in_.remove_prefix(4);
          out->push_back('?');
          break;
        default:
          return false;
      }
    }
    return false;
  }
  // A non-negative integer without fraction or exponent.
  bool Unsigned(uint64_t* out) {
    SkipSpace();
    size_t n = 0;
    while (n < in_.size() && absl::ascii_isdigit(static_cast<unsigned char>(in_[n]))) {
      ++n;
    }
    if (n == 0 || n > 20 || !absl::SimpleAtoi(in_.substr(0, n), out)) {
      return false;
    }
    in_.remove_prefix(n);
    return true;
  }
  bool Literal(absl::string_view word) {
    SkipSpace();
    if (in_.substr(0, word.size()) != word) return false;
    in_.remove_prefix(word.size());
    return true;
  }
  // Any value, checked and dropped.
  bool SkipValue(int depth) {
    if (depth > kMaxDepth) return false;
    SkipSpace();
    if (in_.empty()) return false;
    std::string ignored;
    switch (in_[0]) {
      case '"':
        return String(&ignored);
      case '{':
        return Object(depth + 1, [&](const std::string&) {
          return SkipValue(depth + 1);
        });
      case '[':
        in_.remove_prefix(1);
        if (Consume(']')) return true;
        do {
          if (!SkipValue(depth + 1)) return false;
        } while (Consume(','));
        return Consume(']');
      case 't': return Literal("true");
      case 'f': return Literal("false");
      case 'n': return Literal("null");
      default: {
        Consume('-');
        size_t n = 0;
        while (n < in_.size() &&
               (absl::ascii_isdigit(static_cast<unsigned char>(in_[n])) ||
                in_[n] == '.' || in_[n] == 'e' || in_[n] == 'E' ||
                in_[n] == '+' || in_[n] == '-')) {
          ++n;
        }
        if (n == 0) return false;
        in_.remove_prefix(n);
        return true;
      }
    }
  }
  // An object; `member(key)` reads each member's value.
  template <typename Member>
  bool Object(int depth, Member member) {
    if (depth > kMaxDepth || !Consume('{')) return false;
    if (Consume('}')) return true;
    std::string key;
    do {
      if (!String(&key) || !Consume(':') || !member(key)) return false;
    } while (Consume(','));
    return Consume('}');
  }

 private:
  void SkipSpace() {
    while (!in_.empty() && (in_[0] == ' ' || in_[0] == '\t' ||
                            in_[0] == '\n' || in_[0] == '\r')) {
      in_.remove_prefix(1);
    }
  }
  absl::string_view in_;
};

absl::Status Malformed(absl::string_view json) {
  return absl::InvalidArgumentError(absl::StrCat(
      "JetStream publish reply is no acknowledgement: '",
      absl::CHexEscape(json.substr(0, 200)), "'"));
}

}  // namespace

absl::StatusOr<PubAck> ParsePubAck(absl::string_view json) {
  JsonScanner scan(json);
  PubAck ack;
  bool has_seq = false;
  bool has_error = false;
  uint64_t error_code = 0;
  uint64_t err_code = 0;
  std::string description;
  const bool parsed = scan.Object(1, [&](const std::string& key) {
    if (key == "stream") return scan.String(&ack.stream);
    if (key == "seq") return has_seq = scan.Unsigned(&ack.sequence);
    if (key == "duplicate") {
      if (scan.Literal("true")) return ack.duplicate = true;
      return scan.Literal("false");
    }
    if (key == "error") {
      has_error = true;
      return scan.Object(2, [&](const std::string& inner) {
        if (inner == "code") return scan.Unsigned(&error_code);
        if (inner == "err_code") return scan.Unsigned(&err_code);
        if (inner == "description") return scan.String(&description);
        return scan.SkipValue(2);
      });
    }
    return scan.SkipValue(1);
  });
  if (!parsed || !scan.AtEnd()) return Malformed(json);
  if (has_error) {
    const std::string message = absl::StrCat(
        "JetStream refused the batch: ", absl::CHexEscape(description),
        " (code ", error_code, ", error ", err_code, ")");
    if (error_code >= 500 && error_code <= 599) {
      return absl::UnavailableError(message);
    }
    return absl::FailedPreconditionError(message);
  }
  if (!has_seq || ack.sequence == 0) return Malformed(json);
  return ack;
}

std::string FormatBatchId(absl::string_view mirror, uint64_t batch) {
  return absl::StrCat(mirror, "-", batch);
}

absl::StatusOr<BatchId> ParseBatchId(absl::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch id '", absl::CHexEscape(text.substr(0, 80)),
        "' is not <32 hex digits>-<batch number>"));
  };
  if (text.size() < kMirrorIdLength + 2 || text[kMirrorIdLength] != '-') {
    return bad();
  }
  BatchId id;
  for (size_t i = 0; i < kMirrorIdLength; ++i) {
    const char c = text[i];
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        (c < 'a' || c > 'f')) {
      return bad();
    }
  }
  absl::string_view number = text.substr(kMirrorIdLength + 1);
  if (number.size() > 20 || number[0] == '0') return bad();
  for (char c : number) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return bad();
  }
  if (!absl::SimpleAtoi(number, &id.batch)) return bad();
  id.mirror = std::string(text.substr(0, kMirrorIdLength));
  return id;
}

}  // namespace syncstream::nats::internal
