#!/usr/bin/env bash
# Runs one fuzz target under libFuzzer (clang-14, ASan + UBSan).
#
#   testing/fuzz/run_fuzzer.sh record_fuzzer [SECONDS] [extra libFuzzer flags]
#
# New inputs go to a scratch copy of the seed corpus, so the checked-in seeds
# only change when you copy a finding there on purpose. Crash reproducers are
# written to the current directory (crash-*), as libFuzzer does.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: run_fuzzer.sh NAME [SECONDS] [libFuzzer flags...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
./bazelw build --config=fuzz "//testing/fuzz:${name}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -d "testing/fuzz/corpus/${name}" ]]; then
  cp -r "testing/fuzz/corpus/${name}/." "$work/"
fi
"bazel-bin/testing/fuzz/${name}" -max_total_time="$seconds" -timeout=10 "$@" "$work"
