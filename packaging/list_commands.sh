#!/usr/bin/env bash
# list_commands.sh SYNCSTREAM: prints the words of each command that
# `SYNCSTREAM --help` lists, one command a line ("queue inspect"). Used by
# gen_man.sh and gen_completion.sh, so that both follow the command's own
# help. The list is the indented lines under "commands:"; the words end at
# the first run of two spaces.
set -euo pipefail
"$1" --help | awk '
  /^commands:/ { in_list = 1; next }
  in_list && /^$/ { exit }
  in_list && /^  [^ ]/ { split($0, parts, /   */); print parts[2] }
'
