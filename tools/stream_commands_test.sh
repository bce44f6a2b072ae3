#!/usr/bin/env bash
# syncstream stream create/info/rm, send and read on a JetStream stream of a
# nats-server started here (loopback, random port, storage in $TEST_TMPDIR,
# a user and password). The password reaches the commands only through a
# file or the environment.
set -euo pipefail

syncstream=$(realpath "$1")
dir=${TEST_TMPDIR:-$(mktemp -d)}/stream-commands
rm -rf "$dir" && mkdir -p "$dir"
cd "$dir"

fail() { echo "FAIL: $*" >&2; exit 1; }

nats-server -js -sd "$dir/store" -a 127.0.0.1 -p -1 --ports_file_dir "$dir" \
  --user syncstream --pass secret-password -l "$dir/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  [[ -s "$dir/nats-server_$server.ports" ]] && break
  sleep 0.05
done
port=$(grep -o '127.0.0.1:[0-9]*' "$dir/nats-server_$server.ports" | head -1 | cut -d: -f2)
[[ -n "$port" ]] || fail "nats-server did not report its port"
addr="nats://127.0.0.1:$port/CLI"
echo secret-password > password

# Without credentials the server refuses, and the command says so.
if out=$("$syncstream" stream create "$addr" --max_lines 1000 2>&1); then
  fail "create without credentials succeeded: $out"
fi
grep -qi "authoriz\|UNAUTHENTICATED" <<<"$out" || fail "unclear refusal: $out"

# --max_lines is required.
if "$syncstream" stream create "$addr" --nats_user syncstream \
     --nats_password_file password 2>err; then
  fail "create without --max_lines succeeded"
fi
grep -q -- "--max_lines" err || fail "no word on --max_lines: $(cat err)"

# A mirror before the stream exists says how to create it.
if echo x | SYNCSTREAM_NATS_USER=syncstream \
     SYNCSTREAM_NATS_PASSWORD_FILE="$dir/password" \
     "$syncstream" send "$addr" 2>err; then
  fail "send without a stream succeeded"
fi
grep -q "syncstream stream create $addr --max_lines" err ||
  fail "send did not say how to create the stream: $(cat err)"

"$syncstream" stream create "$addr" --max_lines 1000 --max_age 1h \
  --nats_user syncstream --nats_password_file password >created ||
  fail "create: $(cat created)"
grep -q "^max lines: 1000$" created || fail "create output: $(cat created)"
grep -q "^subjects: syncstream.CLI.>$" created || fail "subjects: $(cat created)"

# Credentials from the environment: the password itself, or its file.
export SYNCSTREAM_NATS_USER=syncstream
seq 1 500 | sed 's/^/line /' | SYNCSTREAM_NATS_PASSWORD=secret-password \
  "$syncstream" send "$addr" --send_as cli-sender || fail "send"
export SYNCSTREAM_NATS_PASSWORD_FILE="$dir/password"
"$syncstream" read "$addr" -n 3 >last || fail "read: $(cat last)"
[[ $(wc -l <last) -eq 3 ]] || fail "read -n 3 gave: $(cat last)"
grep -q "line 498" last && grep -q "line 500" last || fail "last 3: $(cat last)"
"$syncstream" read "$addr" -n 0 >all || fail "read all"
[[ $(wc -l <all) -eq 500 ]] || fail "read -n 0 gave $(wc -l <all) lines"

# Following: the last line, then what a second send adds.
"$syncstream" read "$addr" -n 1 -f >followed 2>&1 &
follower=$!
for _ in $(seq 1 200); do
  grep -q "line 500" followed && break
  sleep 0.05
done
grep -q "line 500" followed || fail "the follower did not start: $(cat followed)"
seq 501 510 | sed 's/^/line /' | "$syncstream" send "$addr" --send_as cli-2 ||
  fail "second send"
for _ in $(seq 1 200); do
  [[ $(grep -c "line " followed || true) -ge 11 ]] && break
  sleep 0.05
done
kill "$follower"; wait "$follower" || true
[[ $(grep -c "line " followed) -eq 11 ]] || fail "followed: $(cat followed)"
grep -q "line 500" followed && grep -q "line 510" followed ||
  fail "followed: $(cat followed)"

"$syncstream" stream info "$addr" >info || fail "info: $(cat info)"
grep -q "^batches: [1-9]" info || fail "info: $(cat info)"
"$syncstream" stream rm "$addr" >/dev/null || fail "rm"
if "$syncstream" stream info "$addr" 2>err; then fail "info after rm"; fi
grep -q "does not exist" err || fail "info after rm: $(cat err)"

# TLS: a server that requires it, a CA of this test's own. Without the CA
# the client is refused; with --nats_tls_ca it connects.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.pem -days 1 -subj /CN=syncstream-test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out server.pem -days 1 -extfile san.ext 2>/dev/null || fail "openssl"
mkdir -p tls
nats-server -js -sd "$dir/tls/store" -a 127.0.0.1 -p -1 \
  --ports_file_dir "$dir/tls" --tls --tlscert server.pem --tlskey server.key \
  -l "$dir/tls/server.log" &
tls_server=$!
trap 'kill "$server" "$tls_server" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  [[ -s "$dir/tls/nats-server_$tls_server.ports" ]] && break
  sleep 0.05
done
tls_port=$(grep -o '127.0.0.1:[0-9]*' "$dir/tls/nats-server_$tls_server.ports" | head -1 | cut -d: -f2)
[[ -n "$tls_port" ]] || fail "the TLS nats-server did not report its port"
tls_addr="nats://127.0.0.1:$tls_port/TLS"
unset SYNCSTREAM_NATS_USER SYNCSTREAM_NATS_PASSWORD_FILE
if "$syncstream" stream create "$tls_addr" --max_lines 10 2>err; then
  fail "a TLS server accepted a client without TLS"
fi
"$syncstream" stream create "$tls_addr" --max_lines 10 \
  --nats_tls_ca "$dir/ca.pem" >/dev/null 2>err || fail "TLS create: $(cat err)"
echo "over tls" | SYNCSTREAM_NATS_TLS_CA_FILE="$dir/ca.pem" \
  "$syncstream" send "$tls_addr" || fail "TLS send"
"$syncstream" read "$tls_addr" -n 1 --nats_tls_ca "$dir/ca.pem" >tls_read ||
  fail "TLS read: $(cat tls_read)"
grep -q "over tls" tls_read || fail "TLS read gave: $(cat tls_read)"

# The help names every credential flag; no flag takes a secret's value.
"$syncstream" send --help >help
for flag in nats_user nats_password_file nats_token_file nats_nkey \
            nats_nkey_seed_file nats_creds_file nats_tls_ca nats_tls_cert \
            nats_tls_key; do
  grep -q -- "--$flag" help || fail "send --help lacks --$flag"
done
if grep -q -- "--nats_password \|--nats_token " help; then
  fail "a flag takes a secret on the command line"
fi
echo PASS
