#!/usr/bin/env bash
# Runs one Python test file (argument 1, a runfiles path) with Debian's
# interpreter, /usr/bin/python3 (the one the extension is built for), with the
# `syncstream` package of this build first on its path.
set -euo pipefail
readonly PYTHON=/usr/bin/python3
runfiles="${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-syncstream}"
export PYTHONPATH="$runfiles/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" -X faulthandler "$runfiles/$1" -v
