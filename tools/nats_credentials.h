// The NATS credentials of a syncstream command: the SYNCSTREAM_NATS_*
// environment variables (syncstream/nats/credentials.h), overridden by the
// --nats_* flags of tools/common_flags.h. A flag that picks a way of
// authenticating (user, token, nkey, creds) replaces the environment's way.
#ifndef SYNCSTREAM_TOOLS_NATS_CREDENTIALS_H_
#define SYNCSTREAM_TOOLS_NATS_CREDENTIALS_H_

#include "absl/status/statusor.h"
#include "syncstream/nats/credentials.h"

namespace syncstream::tools {

// Errors name the flag or variable and the file that could not be read.
absl::StatusOr<nats::JetStreamCredentials> NatsCredentialsFromFlags();

// The --nats_* flags as usage text, for the commands that take them.
inline constexpr char kNatsFlagsUsage[] =
    "[--nats_user U --nats_password_file F | --nats_token_file F | "
    "--nats_nkey K --nats_nkey_seed_file F | --nats_creds_file F] "
    "[--nats_tls_ca F] [--nats_tls_cert F --nats_tls_key F]";

}  // namespace syncstream::tools

#endif  // SYNCSTREAM_TOOLS_NATS_CREDENTIALS_H_
