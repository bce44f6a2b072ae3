"""The version of the syncstream Python package: the wheel's name and
syncstream.__version__ (python/syncstream/version.py is generated from it)."""

SYNCSTREAM_PY_VERSION = "0.1.0"

# The wheel's tags: CPython 3.11 on x86-64 Linux, what Debian bookworm's
# /usr/bin/python3 is (python/make_wheel.py refuses another interpreter).
SYNCSTREAM_PY_TAG = "cp311-cp311-linux_x86_64"
