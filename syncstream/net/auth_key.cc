#include "syncstream/net/auth_key.h"

#include <string.h>  // explicit_bzero

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace syncstream::net {

AuthKey::~AuthKey() { Wipe(); }

AuthKey& AuthKey::operator=(const AuthKey& other) {
  if (this != &other) {
    Wipe();
    bytes_ = other.bytes_;
  }
  return *this;
}

AuthKey::AuthKey(AuthKey&& other) noexcept : bytes_(std::move(other.bytes_)) {
  other.Wipe();
}

AuthKey& AuthKey::operator=(AuthKey&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.Wipe();
  }
  return *this;
}

void AuthKey::Wipe() {
  if (!bytes_.empty()) explicit_bzero(&bytes_[0], bytes_.size());
  bytes_.clear();
}

absl::StatusOr<AuthKey> AuthKey::FromBytes(absl::string_view bytes) {
  if (bytes.size() < kMinAuthKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "authentication key: ", bytes.size(), " bytes is too short (at least ",
        kMinAuthKeyBytes,
        " needed; e.g. `head -c 32 /dev/urandom | base64 > key`)"));
  }
  AuthKey key;
  key.bytes_ = std::string(bytes);
  return key;
}

absl::StatusOr<AuthKey> AuthKey::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("authentication key file '", path,
                                            "': cannot open: ",
                                            std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string bytes = contents.str();
  absl::string_view view = bytes;
  if (absl::ConsumeSuffix(&view, "\n")) absl::ConsumeSuffix(&view, "\r");
  absl::StatusOr<AuthKey> key = FromBytes(view);
  explicit_bzero(bytes.data(), bytes.size());
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "authentication key file '", path, "': ", key.status().message()));
  }
  return key;
}

absl::StatusOr<AuthKey> AuthKey::Load(const std::string& key_file) {
  if (!key_file.empty()) return FromFile(key_file);
  const char* env = std::getenv(kAuthKeyEnvVar);
  if (env == nullptr || *env == '\0') return AuthKey();
  absl::StatusOr<AuthKey> key = FromBytes(env);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("$", kAuthKeyEnvVar, ": ", key.status().message()));
  }
  return key;
}

}  // namespace syncstream::net
