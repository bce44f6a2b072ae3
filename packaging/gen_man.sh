#!/usr/bin/env bash
# gen_man.sh LIST_COMMANDS SYNCSTREAM OUT: writes syncstream(1) with
# help2man from `syncstream --help` and `--version`, and a COMMANDS section
# holding each command's own `--help`, verbatim.
set -euo pipefail
list_commands=$1
bin=$2
out=$3

include=$(mktemp)
trap 'rm -f "$include"' EXIT
# Text as roff: backslashes escaped, a leading dot or quote made literal.
roff_verbatim() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
{
  echo "[COMMANDS]"
  "$list_commands" "$bin" | while read -r c; do
    echo ".SS \"syncstream $c\""
    echo ".nf"
    # shellcheck disable=SC2086  # the words are separate arguments
    "$bin" $c --help | roff_verbatim
    echo ".fi"
  done
  echo "[SEE ALSO]"
  echo "The README and docs/ of the syncstream sources."
} >"$include"
help2man --no-info --no-discard-stderr \
  --name="gather lines from threads, processes and hosts into one ordered stream" \
  --include="$include" --output="$out" "$bin"
