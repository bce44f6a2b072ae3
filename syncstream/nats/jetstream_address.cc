#include "syncstream/nats/jetstream_address.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace syncstream::nats {
namespace {

absl::Status Invalid(absl::string_view text, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      "JetStream address '", text, "': ", problem,
      " (expected nats://HOST:PORT[,HOST:PORT...]/STREAM)"));
}

// Host names and IPv4 addresses: letters, digits, '-', '.' and '_'.
bool IsHostName(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

bool IsIpv6Literal(absl::string_view host) {
  if (host.empty() || host.size() > 45) return false;
  for (char c : host) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' &&
        c != '.') {
      return false;
    }
  }
  return absl::StrContains(host, ':');
}

absl::StatusOr<JetStreamServer> ParseServer(absl::string_view text,
                                            absl::string_view server) {
  JetStreamServer result;
  absl::string_view host;
  absl::string_view port;
  if (absl::ConsumePrefix(&server, "[")) {
    const size_t close = server.find(']');
    if (close == absl::string_view::npos || close + 1 >= server.size() ||
        server[close + 1] != ':') {
      return Invalid(text, "expected [IPV6]:PORT after a '['");
    }
    host = server.substr(0, close);
    port = server.substr(close + 2);
    if (!IsIpv6Literal(host)) {
      return Invalid(text, absl::StrCat("'", host, "' is no IPv6 address"));
    }
  } else {
    const size_t colon = server.rfind(':');
    if (colon == absl::string_view::npos) {
      return Invalid(text, absl::StrCat("server '", server, "' has no port"));
    }
    host = server.substr(0, colon);
    port = server.substr(colon + 1);
    if (!IsHostName(host)) {
      return Invalid(text,
                     absl::StrCat("'", host, "' is no host name or address",
                                  absl::StrContains(host, ':')
                                      ? "; write IPv6 hosts in brackets"
                                      : ""));
    }
  }
  uint32_t number = 0;
  if (port.empty() || port.size() > 5 || !absl::SimpleAtoi(port, &number) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(port[0])) ||
      number == 0 || number > 65535) {
    return Invalid(text, absl::StrCat("port '", port,
                                      "' is not a number from 1 to 65535"));
  }
  result.host = std::string(host);
  result.port = static_cast<uint16_t>(number);
  return result;
}

}  // namespace

std::string JetStreamServer::ToString() const {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

std::string JetStreamAddress::ToString() const {
  std::string text = kJetStreamScheme;
  for (size_t i = 0; i < servers.size(); ++i) {
    if (i > 0) text += ',';
    text += servers[i].ToString();
  }
  absl::StrAppend(&text, "/", stream);
  return text;
}

std::vector<std::string> JetStreamAddress::ServerUrls() const {
  std::vector<std::string> urls;
  for (const JetStreamServer& server : servers) {
    urls.push_back(absl::StrCat(kJetStreamScheme, server.ToString()));
  }
  return urls;
}

std::string JetStreamAddress::StreamSubjects() const {
  return absl::StrCat("syncstream.", stream, ".>");
}

std::string JetStreamAddress::SenderSubject(absl::string_view sender) const {
  return absl::StrCat("syncstream.", stream, ".", SubjectToken(sender));
}

std::string SubjectToken(absl::string_view sender) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string token;
  token.reserve(sender.size());
  for (char c : sender) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '_') {
      token += c;
    } else {
      token += '%';
      token += kHex[u >> 4];
      token += kHex[u & 0xf];
    }
  }
  if (token.empty()) token = "%";  // an empty name still needs a token
  return token;
}

bool IsJetStreamAddress(absl::string_view text) {
  return absl::StartsWith(text, kJetStreamScheme);
}

absl::StatusOr<JetStreamAddress> ParseJetStreamAddress(
    absl::string_view text) {
  absl::string_view rest = text;
  if (!absl::ConsumePrefix(&rest, kJetStreamScheme)) {
    return Invalid(text, "does not start with nats://");
  }
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return Invalid(text, "no /STREAM after the servers");
  }
  absl::string_view servers = rest.substr(0, slash);
  absl::string_view stream = rest.substr(slash + 1);
  if (servers.empty()) return Invalid(text, "no server");
  JetStreamAddress address;
  for (absl::string_view server : absl::StrSplit(servers, ',')) {
    absl::StatusOr<JetStreamServer> parsed = ParseServer(text, server);
    if (!parsed.ok()) return parsed.status();
    address.servers.push_back(*std::move(parsed));
  }
  if (stream.empty()) return Invalid(text, "empty stream name");
  if (stream.size() > kMaxStreamNameLength) {
    return Invalid(text, absl::StrCat("stream name longer than ",
                                      kMaxStreamNameLength, " characters"));
  }
  for (char c : stream) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= ' ' || u >= 0x7f || c == '.' || c == '*' || c == '>' ||
        c == '/' || c == '\\') {
      return Invalid(
          text, "a stream name takes printable ASCII other than space and "
                ". * > / \\");
    }
  }
  address.stream = std::string(stream);
  return address;
}

}  // namespace syncstream::nats
