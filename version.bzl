"""syncstream's version: the one place it is written.

Everything else derives from it: syncstream/version.h (//:version), the
`syncstream --version` output, the shared library's soname, the pkg-config and
CMake package versions and the Debian package versions (//packaging).
Releasing means changing VERSION here and adding a section to CHANGELOG.md.
"""

VERSION = "0.1.0"

def _parts(version):
    major, minor, patch = version.split(".")
    return int(major), int(minor), int(patch)

VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = _parts(VERSION)

# The shared library's ABI version, the suffix of libsyncstream.so.SOVERSION.
# Before 1.0 every minor release may break the ABI (semantic versioning's
# 0.y rule), so the soname carries major.minor; from 1.0 on, the major alone.
SOVERSION = ("%d.%d" % (VERSION_MAJOR, VERSION_MINOR)) if VERSION_MAJOR == 0 else str(VERSION_MAJOR)
