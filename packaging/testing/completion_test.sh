#!/usr/bin/env bash
# The generated bash completion completes the command words, each command's
# own flags (as its --help lists them) and --help/--version, and leaves
# other arguments to bash's file completion.
#   completion_test.sh COMPLETION SYNCSTREAM
set -uo pipefail
# shellcheck disable=SC1090
source "$1"
bin=$2
failures=0

# complete WORDS...: COMPREPLY for the command line WORDS, the cursor on the
# last word (pass "" to complete an empty word).
complete_line() {
  COMP_WORDS=(syncstream "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _syncstream
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect() {  # expect WANT WORDS...: exactly the completions WANT
  local want=$1
  shift
  local got
  got=$(complete_line "$@")
  if [[ "$got" != "$want" ]]; then
    echo "FAIL: syncstream $* <TAB>: got '$got', want '$want'"
    failures=$((failures + 1))
  fi
}

expect_some() {  # expect_some WANT WORDS...: WANT's words among the completions
  local want=$1 word
  shift
  local got
  got=$(complete_line "$@")
  for word in $want; do
    if [[ " $got " != *" $word "* || "$got" == *--* ]]; then
      echo "FAIL: syncstream $* <TAB>: got '$got', want '$word' among them and no flags"
      failures=$((failures + 1))
    fi
  done
}

expect "queue" qu
expect_some "append inspect ls repair rm tail" queue ""
expect "inspect" queue ins
expect_some "file manager queue read run send serve" ""
expect "--help --version" --
expect "--json" queue inspect --j
expect "--version" queue inspect some-queue --v
expect "" queue inspect some-queue
expect "--keep_order" run --k
# Every flag a command's --help shows is offered for it.
while read -r words; do
  # shellcheck disable=SC2086
  for flag in $("$bin" $words --help | sed -n -E 's/^  (--[A-Za-z0-9_]+).*/\1/p'); do
    # shellcheck disable=SC2086
    got=$(complete_line $words "$flag")
    [[ " $got " == *" $flag "* ]] || {
      echo "FAIL: syncstream $words $flag<TAB> does not offer $flag (got '$got')"
      failures=$((failures + 1))
    }
  done
done < <(printf '%s\n' "${_syncstream_commands[@]}")
[[ $failures -eq 0 ]] && echo "PASS"
exit $failures
