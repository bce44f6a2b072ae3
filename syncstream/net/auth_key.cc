#include "syncstream/net/auth_key.h"

#include <fcntl.h>
#include <string.h>  // explicit_bzero
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

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
  // As ssh does with private keys: a key other users can read (or replace)
  // is no secret. Checked on the descriptor that is read, not on the name.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("authentication key file '", path,
                                            "': cannot open: ",
                                            std::strerror(errno)));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("authentication key file '", path,
                                            "': fstat: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "authentication key file '", path, "': not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "authentication key file '%s': mode %04o lets other users read or "
        "change it; refused (run: chmod 600 '%s')",
        path, st.st_mode & 07777, path));
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "authentication key file '", path, "': owned by user ", st.st_uid,
        ", not by this user (", ::geteuid(), ") or root; refused"));
  }
  std::string bytes;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      explicit_bzero(bytes.data(), bytes.size());
      return absl::InternalError(absl::StrCat("authentication key file '",
                                              path, "': read: ",
                                              std::strerror(errno)));
    }
    bytes.append(buffer, static_cast<size_t>(n));
    if (bytes.size() > (1 << 20)) {
      explicit_bzero(bytes.data(), bytes.size());
      return absl::InvalidArgumentError(absl::StrCat(
          "authentication key file '", path, "': larger than 1 MiB"));
    }
  }
  explicit_bzero(buffer, sizeof(buffer));
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
