// AuthKey: the shared secret of syncstream's transport authentication.
//
// Servers and clients that share a key prove it to each other on connect
// (HMAC-SHA256 challenge-response in both directions, see connection.h). The
// key comes from a file or from the environment variable SYNCSTREAM_AUTH_KEY,
// never from a command-line argument (other users can read those in /proc).
//
//   SYNCSTREAM_ASSIGN_OR_RETURN(AuthKey key, AuthKey::Load(FLAGS_auth_key_file));
//
// A key is at least kMinAuthKeyBytes bytes; a trailing line break in a key
// file is not part of the key. Copyable (servers hand it to every
// connection); the bytes are wiped when a copy is destroyed.
#ifndef SYNCSTREAM_NET_AUTH_KEY_H_
#define SYNCSTREAM_NET_AUTH_KEY_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncstream::net {

inline constexpr char kAuthKeyEnvVar[] = "SYNCSTREAM_AUTH_KEY";
inline constexpr size_t kMinAuthKeyBytes = 16;

class AuthKey {
 public:
  // No key: only allowed for Unix sockets and loopback TCP.
  AuthKey() = default;
  ~AuthKey();
  AuthKey(const AuthKey& other) = default;
  AuthKey& operator=(const AuthKey& other);
  AuthKey(AuthKey&& other) noexcept;
  AuthKey& operator=(AuthKey&& other) noexcept;

  // InvalidArgument if shorter than kMinAuthKeyBytes.
  static absl::StatusOr<AuthKey> FromBytes(absl::string_view bytes);
  // The file's contents without a trailing "\n" or "\r\n". As ssh does
  // with private keys, a file that group or others may read or write, or
  // that belongs to another user than this one or root, is refused
  // (PermissionDenied naming the mode and the chmod that fixes it).
  static absl::StatusOr<AuthKey> FromFile(const std::string& path);
  // The key from `key_file` if non-empty; otherwise from $SYNCSTREAM_AUTH_KEY
  // if set and non-empty; otherwise no key.
  static absl::StatusOr<AuthKey> Load(const std::string& key_file);

  bool empty() const { return bytes_.empty(); }
  absl::string_view bytes() const { return bytes_; }

 private:
  void Wipe();
  std::string bytes_;
};

}  // namespace syncstream::net

#endif  // SYNCSTREAM_NET_AUTH_KEY_H_
