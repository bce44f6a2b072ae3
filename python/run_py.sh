#!/usr/bin/env bash
# Runs one Python file of this package's tests or benchmarks (argument 1, a
# runfiles path; the rest are its arguments) with Debian's interpreter,
# /usr/bin/python3 (the one the extension is built for), with the
# `syncstream` package of this build first on its path. Works under
# `bazel test` and `bazel run`.
set -euo pipefail
readonly PYTHON=/usr/bin/python3
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  runfiles="$TEST_SRCDIR"
elif [[ -n "${RUNFILES_DIR:-}" ]]; then
  runfiles="$RUNFILES_DIR"
else
  runfiles="$0.runfiles"
fi
runfiles="$runfiles/${TEST_WORKSPACE:-syncstream}"
script="$runfiles/$1"
shift
export PYTHONPATH="$runfiles/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" -X faulthandler "$script" "$@"
