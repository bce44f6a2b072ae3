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
