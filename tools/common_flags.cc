#include "tools/common_flags.h"

DEFINE_string(listen, "",
              "address to listen on: unix:/PATH, tcp:HOST:PORT or HOST:PORT "
              "(port 0: any free port); a non-loopback address needs a key. "
              "Default: the server's own (serve: tcp:127.0.0.1:7700, manager "
              "serve: tcp:127.0.0.1:7710)");
DEFINE_string(auth_key_file, "",
              "file holding the shared authentication key (at least 16 "
              "bytes); default: $SYNCSTREAM_AUTH_KEY, else no key");
DEFINE_int64(maxlen, 10000, "records to keep (the last N)");
DEFINE_int32(n, 10, "show the last N records first (0: all of them)");
DEFINE_bool(f, false, "follow: keep printing new records as they arrive");
DEFINE_bool(json, false, "print JSON instead of text");
DEFINE_string(nats_user, "",
              "nats:// addresses: NATS user name, with --nats_password_file "
              "(default: $SYNCSTREAM_NATS_USER)");
DEFINE_string(nats_password_file, "",
              "nats:// addresses: file whose first line is the NATS password "
              "(default: $SYNCSTREAM_NATS_PASSWORD_FILE or "
              "$SYNCSTREAM_NATS_PASSWORD)");
DEFINE_string(nats_token_file, "",
              "nats:// addresses: file whose first line is a NATS token "
              "(default: $SYNCSTREAM_NATS_TOKEN_FILE or $SYNCSTREAM_NATS_TOKEN)");
DEFINE_string(nats_nkey, "",
              "nats:// addresses: the public nkey (U...), with "
              "--nats_nkey_seed_file (default: $SYNCSTREAM_NATS_NKEY)");
DEFINE_string(nats_nkey_seed_file, "",
              "nats:// addresses: file holding the nkey's seed (SU...) "
              "(default: $SYNCSTREAM_NATS_NKEY_SEED_FILE)");
DEFINE_string(nats_creds_file, "",
              "nats:// addresses: a NATS .creds file, user JWT and seed "
              "(default: $SYNCSTREAM_NATS_CREDS_FILE)");
DEFINE_string(nats_tls_ca, "",
              "nats:// addresses: CA certificates (PEM) to verify the servers "
              "with; turns TLS on (default: $SYNCSTREAM_NATS_TLS_CA_FILE)");
DEFINE_string(nats_tls_cert, "",
              "nats:// addresses: client certificate (PEM) for TLS, with "
              "--nats_tls_key (default: $SYNCSTREAM_NATS_TLS_CERT_FILE)");
DEFINE_string(nats_tls_key, "",
              "nats:// addresses: the client certificate's key (PEM) "
              "(default: $SYNCSTREAM_NATS_TLS_KEY_FILE)");
DEFINE_bool(force, false,
            "file unlock: remove the lock even if it is live; queue rm: remove a "
            "queue even if live participants use it");
