#include "tools/nats_credentials.h"

#include "absl/strings/str_cat.h"
#include "tools/common_flags.h"

namespace syncstream::tools {
namespace {

void ClearAuthentication(nats::JetStreamCredentials* c) {
  c->user.clear();
  c->password.clear();
  c->token.clear();
  c->nkey.clear();
  c->nkey_seed_file.clear();
  c->creds_file.clear();
}

absl::StatusOr<std::string> Secret(const std::string& flag,
                                   const std::string& path,
                                   const std::string& what) {
  absl::StatusOr<std::string> secret = nats::ReadSecretFile(path, what);
  if (!secret.ok()) {
    return absl::Status(secret.status().code(),
                        absl::StrCat("--", flag, ": ",
                                     secret.status().message()));
  }
  return secret;
}

}  // namespace

absl::StatusOr<nats::JetStreamCredentials> NatsCredentialsFromFlags() {
  absl::StatusOr<nats::JetStreamCredentials> env =
      nats::JetStreamCredentialsFromEnvironment();
  if (!env.ok()) return env.status();
  nats::JetStreamCredentials c = *std::move(env);
  if (!FLAGS_nats_user.empty() || !FLAGS_nats_password_file.empty()) {
    ClearAuthentication(&c);
    c.user = FLAGS_nats_user;
    if (!FLAGS_nats_password_file.empty()) {
      absl::StatusOr<std::string> password = Secret(
          "nats_password_file", FLAGS_nats_password_file, "password file");
      if (!password.ok()) return password.status();
      c.password = *password;
    }
  } else if (!FLAGS_nats_token_file.empty()) {
    ClearAuthentication(&c);
    absl::StatusOr<std::string> token =
        Secret("nats_token_file", FLAGS_nats_token_file, "token file");
    if (!token.ok()) return token.status();
    c.token = *token;
  } else if (!FLAGS_nats_nkey.empty() || !FLAGS_nats_nkey_seed_file.empty()) {
    ClearAuthentication(&c);
    c.nkey = FLAGS_nats_nkey;
    c.nkey_seed_file = FLAGS_nats_nkey_seed_file;
  } else if (!FLAGS_nats_creds_file.empty()) {
    ClearAuthentication(&c);
    c.creds_file = FLAGS_nats_creds_file;
  }
  if (!FLAGS_nats_tls_ca.empty()) c.tls_ca_file = FLAGS_nats_tls_ca;
  if (!FLAGS_nats_tls_cert.empty()) c.tls_cert_file = FLAGS_nats_tls_cert;
  if (!FLAGS_nats_tls_key.empty()) c.tls_key_file = FLAGS_nats_tls_key;
  absl::Status valid = c.Validate();
  if (!valid.ok()) return valid;
  return c;
}

}  // namespace syncstream::tools
