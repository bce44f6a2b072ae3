#!/usr/bin/env bash
# `syncstream --version` and `syncstream COMMAND --version` print the version
# of //:version.bzl and exit 0; an unknown command with --version is still a
# usage error (2); after "--" --version belongs to the command line run.
#   version_test.sh SYNCSTREAM VERSION
set -uo pipefail
bin=$1
want="syncstream $2"
failures=0

expect() {  # expect STATUS OUTPUT ARGS...: stdout and exit status of bin ARGS
  local status=$1 output=$2
  shift 2
  local got got_status
  got=$("$bin" "$@" 2>/dev/null)
  got_status=$?
  if [[ "$got_status" != "$status" || ( -n "$output" && "$got" != "$output" ) ]]; then
    echo "FAIL: syncstream $*: status $got_status (want $status), output '$got' (want '$output')"
    failures=$((failures + 1))
  fi
}

expect 0 "$want" --version
expect 0 "$want" -version
expect 0 "$want" queue inspect --version
expect 0 "$want" file tail somewhere --version
expect 0 "$want" run --version
expect 0 "$want" queue --version
expect 2 "" no-such-command --version
# After "--" the flag belongs to the command run, which prints it.
expect 0 "--version" run -- "echo --version"
[[ $failures -eq 0 ]] && echo "PASS"
exit $failures
