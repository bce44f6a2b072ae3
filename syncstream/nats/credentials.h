// JetStreamCredentials: how a syncstream client proves itself to NATS
// servers, and whether it speaks TLS to them.
//
// Secrets never travel as command-line values (ps(1) shows those): they come
// from files, or from the environment of the process:
//
//   SYNCSTREAM_NATS_USER            user name (with a password)
//   SYNCSTREAM_NATS_PASSWORD        the password, or
//   SYNCSTREAM_NATS_PASSWORD_FILE   a file holding it (first line)
//   SYNCSTREAM_NATS_TOKEN / SYNCSTREAM_NATS_TOKEN_FILE   a token
//   SYNCSTREAM_NATS_NKEY            an nkey's public key ("U..."), with
//   SYNCSTREAM_NATS_NKEY_SEED_FILE  the file holding its seed ("SU...")
//   SYNCSTREAM_NATS_CREDS_FILE      a .creds file (user JWT and seed)
//   SYNCSTREAM_NATS_TLS_CA_FILE     CA certificates (PEM): use TLS and
//                                   verify the servers with them
//   SYNCSTREAM_NATS_TLS_CERT_FILE, SYNCSTREAM_NATS_TLS_KEY_FILE
//                                   a client certificate and its key (PEM)
//
// At most one way of authenticating may be set (user, token, nkey or
// creds); none means an anonymous connection. A JetStreamCredentials is a
// plain value: copyable, read from any thread.
#ifndef SYNCSTREAM_NATS_CREDENTIALS_H_
#define SYNCSTREAM_NATS_CREDENTIALS_H_

#include <string>

#include "absl/status/statusor.h"

namespace syncstream::nats {

struct JetStreamCredentials {
  std::string user;
  std::string password;
  std::string token;
  std::string nkey;            // public key
  std::string nkey_seed_file;  // path
  std::string creds_file;      // path
  std::string tls_ca_file;     // paths; any of them turns TLS on
  std::string tls_cert_file;
  std::string tls_key_file;

  bool tls() const {
    return !tls_ca_file.empty() || !tls_cert_file.empty();
  }
  // InvalidArgument when two ways of authenticating are set, a password
  // lacks its user (or the reverse), an nkey lacks its seed file (or the
  // reverse), or a TLS certificate lacks its key (or the reverse).
  absl::Status Validate() const;
};

// The variables above; a *_FILE variable is read here. InvalidArgument or
// NotFound naming the variable and the file when one cannot be read, and
// Validate()'s errors.
absl::StatusOr<JetStreamCredentials> JetStreamCredentialsFromEnvironment();

// The first line of `path` (without its line break), for a password or a
// token kept in a file. `what` names it in errors ("password file").
absl::StatusOr<std::string> ReadSecretFile(const std::string& path,
                                           const std::string& what);

}  // namespace syncstream::nats

#endif  // SYNCSTREAM_NATS_CREDENTIALS_H_
