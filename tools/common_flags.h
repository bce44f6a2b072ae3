// Flags shared by several subcommand groups. gflags allows each name to be
// defined once per binary, so flags that several groups use with the same
// meaning live here; a group declares them by including this header and
// depending on //tools:common_flags.
#ifndef SYNCSTREAM_TOOLS_COMMON_FLAGS_H_
#define SYNCSTREAM_TOOLS_COMMON_FLAGS_H_

#include <gflags/gflags.h>

// Servers: where to listen (unix:/PATH, tcp:HOST:PORT, HOST:PORT); empty
// (the default) means each server's own default address.
DECLARE_string(listen);
// Servers and clients: the shared key's file (else $SYNCSTREAM_AUTH_KEY).
DECLARE_string(auth_key_file);
// Buffers: how many records to keep (the N of "the last N").
DECLARE_int64(maxlen);
// Readers: show the last N records first (0: all).
DECLARE_int32(n);
// Readers: keep printing new records as they arrive (tail -f).
DECLARE_bool(f);
// Clients of a NATS JetStream stream (nats://...): credentials, each a file
// or a name, never a secret (tools/nats_credentials.h reads them, over the
// SYNCSTREAM_NATS_* environment variables of syncstream/nats/credentials.h).
DECLARE_string(nats_user);
DECLARE_string(nats_password_file);
DECLARE_string(nats_token_file);
DECLARE_string(nats_nkey);
DECLARE_string(nats_nkey_seed_file);
DECLARE_string(nats_creds_file);
DECLARE_string(nats_tls_ca);
DECLARE_string(nats_tls_cert);
DECLARE_string(nats_tls_key);
// Inspection commands (queue ls, manager ls, ...): print JSON, not text.
DECLARE_bool(json);
// Removal commands (file unlock, queue rm): remove what is still in use.
DECLARE_bool(force);

#endif  // SYNCSTREAM_TOOLS_COMMON_FLAGS_H_
