#!/usr/bin/env bash
# The wheel installs offline into a fresh venv of Debian's python3 and works
# there, away from the build tree: pip install --no-index, then import and
# gather lines from threads and from a child process.
set -euo pipefail
readonly PYTHON=/usr/bin/python3
runfiles="${TEST_SRCDIR}/${TEST_WORKSPACE}"
wheels=("$runfiles"/python/syncstream-*.whl)
[[ ${#wheels[@]} -eq 1 ]] || { echo "expected one wheel: ${wheels[*]}"; exit 1; }
wheel="${wheels[0]}"

work="$(mktemp -d "${TEST_TMPDIR}/wheel.XXXXXX")"
"$PYTHON" -m venv "$work/venv"
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$work/venv/bin/pip" install --no-index --no-deps --quiet "$wheel"

cd "$work"   # nowhere near the build tree
unset PYTHONPATH
# A file, not stdin: spawned children import the main module by its path.
cat > "$work/use_wheel.py" <<'PY'
import multiprocessing
import os
import sys
import syncstream

venv = os.path.realpath(sys.argv[1])
where = os.path.realpath(syncstream.__file__)
assert where.startswith(venv + os.sep), where
assert os.path.realpath(syncstream._syncstream.__file__).startswith(venv)


def child(mirror):
    with mirror:
        print("from the child")


if __name__ == "__main__":
    buf = syncstream.LineBuffer(2)
    with buf:
        print("hello from the wheel")
    assert buf.read() == ("hello from the wheel",), buf.read()
    pbuf = syncstream.LineProcBuffer(5)
    p = multiprocessing.get_context("spawn").Process(
        target=child, args=(pbuf.mirror,))
    p.start()
    pbuf.wait(60)
    p.join(60)
    assert pbuf.read() == ("from the child",), pbuf.read()
    print("wheel", syncstream.__version__, "ok")
PY
"$work/venv/bin/python" "$work/use_wheel.py" "$work/venv"
