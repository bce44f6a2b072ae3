#include "syncstream/nats/credentials.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace syncstream::nats {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// A secret given directly in `name` or in the file `name`_FILE names.
absl::StatusOr<std::string> SecretFromEnvironment(const char* name,
                                                  const char* file_name,
                                                  const char* what) {
  const std::string value = Env(name);
  const std::string file = Env(file_name);
  if (!value.empty() && !file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("NATS credentials: both ", name, " and ", file_name,
                     " are set; set one"));
  }
  if (file.empty()) return value;
  absl::StatusOr<std::string> secret = ReadSecretFile(file, what);
  if (!secret.ok()) {
    return absl::Status(secret.status().code(),
                        absl::StrCat(file_name, ": ", secret.status().message()));
  }
  return secret;
}

}  // namespace

absl::StatusOr<std::string> ReadSecretFile(const std::string& path,
                                           const std::string& what) {
  std::ifstream in(path);
  if (!in) {
    const int error = errno;
    absl::Status status = absl::ErrnoToStatus(
        error, absl::StrCat("NATS ", what, " '", path, "': cannot open"));
    return status;
  }
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("NATS ", what, " '", path, "': empty first line"));
  }
  return line;
}

absl::Status JetStreamCredentials::Validate() const {
  int ways = 0;
  ways += !user.empty() || !password.empty();
  ways += !token.empty();
  ways += !nkey.empty() || !nkey_seed_file.empty();
  ways += !creds_file.empty();
  if (ways > 1) {
    return absl::InvalidArgumentError(
        "NATS credentials: more than one of user/password, token, nkey and "
        "creds file given; give one");
  }
  if (user.empty() != password.empty()) {
    return absl::InvalidArgumentError(
        "NATS credentials: a user needs a password and a password a user");
  }
  if (nkey.empty() != nkey_seed_file.empty()) {
    return absl::InvalidArgumentError(
        "NATS credentials: an nkey needs its seed file and a seed file its "
        "public nkey");
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "NATS credentials: a TLS client certificate needs its key file and a "
        "key file its certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<JetStreamCredentials> JetStreamCredentialsFromEnvironment() {
  JetStreamCredentials c;
  c.user = Env("SYNCSTREAM_NATS_USER");
  absl::StatusOr<std::string> password = SecretFromEnvironment(
      "SYNCSTREAM_NATS_PASSWORD", "SYNCSTREAM_NATS_PASSWORD_FILE",
      "password file");
  if (!password.ok()) return password.status();
  c.password = *password;
  absl::StatusOr<std::string> token = SecretFromEnvironment(
      "SYNCSTREAM_NATS_TOKEN", "SYNCSTREAM_NATS_TOKEN_FILE", "token file");
  if (!token.ok()) return token.status();
  c.token = *token;
  c.nkey = Env("SYNCSTREAM_NATS_NKEY");
  c.nkey_seed_file = Env("SYNCSTREAM_NATS_NKEY_SEED_FILE");
  c.creds_file = Env("SYNCSTREAM_NATS_CREDS_FILE");
  c.tls_ca_file = Env("SYNCSTREAM_NATS_TLS_CA_FILE");
  c.tls_cert_file = Env("SYNCSTREAM_NATS_TLS_CERT_FILE");
  c.tls_key_file = Env("SYNCSTREAM_NATS_TLS_KEY_FILE");
  absl::Status valid = c.Validate();
  if (!valid.ok()) return valid;
  return c;
}

}  // namespace syncstream::nats
