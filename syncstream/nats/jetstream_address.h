// JetStreamAddress: a NATS JetStream stream that hosts' lines go to, in the
// form
//
//   nats://HOST:PORT[,HOST:PORT...]/STREAM
//
// HOST is a name, an IPv4 address or an IPv6 address in brackets
// ("[::1]:4222"); PORT is 1-65535. The servers are seeds: a client connects
// to any of them and learns the rest of the cluster from it. STREAM is a
// JetStream stream name: 1-64 printable ASCII characters other than space,
// '.', '*', '>', '/' and '\'.
//
// Each sender publishes on its own subject under the stream,
// "syncstream.STREAM.<sender token>" (SenderSubject), so that a reader can
// filter by sender; the stream takes "syncstream.STREAM.>".
//
// Parsing does not resolve names or contact a server. A JetStreamAddress is a
// value: copyable, and safe to read from several threads.
#ifndef SYNCSTREAM_NATS_JETSTREAM_ADDRESS_H_
#define SYNCSTREAM_NATS_JETSTREAM_ADDRESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncstream::nats {

inline constexpr char kJetStreamScheme[] = "nats://";
inline constexpr size_t kMaxStreamNameLength = 64;

struct JetStreamServer {
  std::string host;  // without brackets
  uint16_t port = 0;

  // "host:port", "[::1]:port".
  std::string ToString() const;
  friend bool operator==(const JetStreamServer& a, const JetStreamServer& b) {
    return a.host == b.host && a.port == b.port;
  }
};

struct JetStreamAddress {
  std::vector<JetStreamServer> servers;  // at least one
  std::string stream;

  // The canonical text form, "nats://h1:p1,h2:p2/STREAM".
  std::string ToString() const;
  // One URL per server, "nats://h1:p1", for the NATS client.
  std::vector<std::string> ServerUrls() const;
  // "syncstream.STREAM.>": every subject the stream takes.
  std::string StreamSubjects() const;
  // The subject a sender named `sender` publishes on.
  std::string SenderSubject(absl::string_view sender) const;

  friend bool operator==(const JetStreamAddress& a,
                         const JetStreamAddress& b) {
    return a.servers == b.servers && a.stream == b.stream;
  }
};

// True when `text` starts with "nats://" (whether or not it is valid).
bool IsJetStreamAddress(absl::string_view text);

// Parses the form above. InvalidArgument naming the text and what is wrong.
absl::StatusOr<JetStreamAddress> ParseJetStreamAddress(absl::string_view text);

// `sender` as one subject token: letters, digits, '-' and '_' are kept, every
// other byte becomes "%XX" (so distinct names stay distinct tokens).
std::string SubjectToken(absl::string_view sender);

}  // namespace syncstream::nats

#endif  // SYNCSTREAM_NATS_JETSTREAM_ADDRESS_H_
