"""Writes the syncstream wheel (a zip: the package, the extension and
*.dist-info/{METADATA,WHEEL,RECORD}, PEP 427) from files Bazel built.

    make_wheel.py OUT.whl VERSION TAG EXTENSION.so PACKAGE_FILE.py...

Deterministic: fixed timestamps and file order, so the same inputs give the
same bytes. Needs nothing but the standard library (no network, no pip).
"""

import base64
import hashlib
import os
import sys
import sysconfig
import zipfile

_EPOCH = (1980, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def main(argv) -> int:
    out, version, tag, extension = argv[1:5]
    sources = argv[5:]
    python_tag, abi_tag, platform_tag = tag.split("-")
    expected = "cp{0}{1}".format(*sys.version_info[:2])
    if python_tag != expected or abi_tag != expected:
        sys.stderr.write(
            "make_wheel: the wheel is tagged {0} but this interpreter is {1} "
            "({2}); build with Debian's python3 3.11\n".format(
                tag, expected, sys.executable))
        return 1
    suffix = sysconfig.get_config_var("EXT_SUFFIX")  # .cpython-311-x86_64-...
    dist_info = "syncstream-{0}.dist-info".format(version)
    files = []
    for path in sorted(sources, key=os.path.basename):
        with open(path, "rb") as f:
            files.append(("syncstream/" + os.path.basename(path), f.read()))
    with open(extension, "rb") as f:
        files.append(("syncstream/_syncstream" + suffix, f.read()))
    metadata = "\n".join([
        "Metadata-Version: 2.1",
        "Name: syncstream",
        "Version: " + version,
        "Summary: Lines from threads and processes gathered into one "
        "ordered stream, never interleaved (sync-stream's API on a C++ "
        "engine).",
        "Requires-Python: ==3.11.*",
        "",
        "Run-time dependencies on Debian bookworm (the shared libraries the "
        "extension links): libabsl20220623, libprotobuf32, libnats3.4 "
        "(with libprotobuf-c1), libssl3, zlib1g.",
        "",
    ])
    wheel = "\n".join([
        "Wheel-Version: 1.0",
        "Generator: syncstream make_wheel.py",
        "Root-Is-Purelib: false",
        "Tag: " + tag,
        "",
    ])
    files.append((dist_info + "/METADATA", metadata.encode()))
    files.append((dist_info + "/WHEEL", wheel.encode()))
    record_lines = ["{0},{1},{2}".format(name, _record_hash(data), len(data))
                    for name, data in files]
    record_lines.append(dist_info + "/RECORD,,")
    files.append((dist_info + "/RECORD",
                  ("\n".join(record_lines) + "\n").encode()))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as whl:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = name.endswith(".so")
            info.external_attr = (0o755 if executable else 0o644) << 16
            whl.writestr(info, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
