#!/usr/bin/env bash
# Checks the .debs of //packaging:debs: their control fields and contents
# (dpkg-deb --info/--contents), that dpkg installs them into an empty root
# (dpkg --root; the dependencies, Debian's own packages, are checked to be
# real installed packages here instead), that apt finds every dependency for
# a machine with nothing installed (a simulation against the archive's
# package lists), and that the installed files work:
# the command's --version, its man page, its completion, and the
# pkg-config consumer built against the installed -dev package (with
# $CONSUMER_FLAGS, a sanitizer when the library was built with one).
#   debs_test.sh VERSION SOVERSION CONSUMER_CC DEB...
set -euo pipefail
version=$1 soversion=$2 consumer_cc=$3
shift 3
lib_deb="" dev_deb="" cli_deb=""
for deb in "$@"; do
  case "$(dpkg-deb --field "$deb" Package)" in
    "libsyncstream$soversion") lib_deb=$deb ;;
    libsyncstream-dev) dev_deb=$deb ;;
    syncstream) cli_deb=$deb ;;
    *) echo "FAIL: unexpected package $deb"; exit 1 ;;
  esac
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir="usr/lib/$multiarch"
fail() { echo "FAIL: $*"; exit 1; }
# The consumer forks while LineProcBuffer's collector thread runs; TSan
# refuses threads in such a child unless told (as line_proc_buffer_test does).
if [[ "${CONSUMER_FLAGS:-}" == *-fsanitize=thread* ]]; then
  export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}die_after_fork=0"
fi

field() { dpkg-deb --field "$1" "$2"; }
[[ -n "$lib_deb" && -n "$dev_deb" && -n "$cli_deb" ]] ||
  fail "want libsyncstream$soversion, libsyncstream-dev and syncstream among: $*"
for deb in "$lib_deb" "$dev_deb" "$cli_deb"; do
  [[ "$(field "$deb" Version)" == "$version" ]] || fail "$deb: version $(field "$deb" Version)"
  [[ "$(field "$deb" Architecture)" == "$(dpkg --print-architecture)" ]] || fail "$deb: architecture"
  dpkg-deb --info "$deb" >/dev/null
  # Every dependency is a Debian package that exists (installed here, since
  # the build used it).
  deps=$(field "$deb" Depends | tr ',' '\n' | sed -E 's/^ *([^ (]+).*/\1/')
  for dep in $deps; do
    [[ "$dep" == libsyncstream* ]] && continue
    [[ "$(dpkg-query -W -f='${Status}' "$dep" 2>/dev/null)" == "install ok installed" ]] ||
      fail "$deb depends on '$dep', which is not an installed Debian package"
  done
  # Owned by root, no stray build paths.
  if [[ -n "$(dpkg-deb --contents "$deb" | awk '$2 != "root/root"')" ]]; then
    fail "$deb: files not owned by root/root"
  fi
done
grep -qF "libabsl20220623" <<<"$(field "$lib_deb" Depends)" || fail "library does not depend on libabsl20220623"
grep -qF "libprotobuf32" <<<"$(field "$lib_deb" Depends)" || fail "library does not depend on libprotobuf32"
grep -qF "libsyncstream$soversion (= $version)" <<<"$(field "$dev_deb" Depends)" || fail "-dev does not pin the library"
grep -qF "libabsl-dev" <<<"$(field "$dev_deb" Depends)" || fail "-dev does not depend on libabsl-dev"

contents() { dpkg-deb --contents "$1" | awk '{print $6}' | sed 's|^\./||'; }
grep -qx "$libdir/libsyncstream.so.$version" <<<"$(contents "$lib_deb")" || fail "library file missing"
grep -qx "usr/include/syncstream/proto/record.pb.h" <<<"$(contents "$dev_deb")" || fail "generated header missing"
grep -qx "$libdir/pkgconfig/syncstream.pc" <<<"$(contents "$dev_deb")" || fail "syncstream.pc missing"
grep -qx "$libdir/cmake/syncstream/syncstream-config.cmake" <<<"$(contents "$dev_deb")" || fail "CMake package missing"
grep -qx "usr/bin/syncstream" <<<"$(contents "$cli_deb")" || fail "command missing"
grep -qx "usr/share/man/man1/syncstream.1.gz" <<<"$(contents "$cli_deb")" || fail "man page missing"
grep -qx "usr/share/bash-completion/completions/syncstream" <<<"$(contents "$cli_deb")" || fail "completion missing"
for deb in "$lib_deb" "$dev_deb" "$cli_deb"; do
  package=$(field "$deb" Package)
  grep -qx "usr/share/doc/$package/copyright" <<<"$(contents "$deb")" || fail "$package has no copyright file"
done

# A fresh bookworm machine: apt, given an empty dpkg status (nothing
# installed), must find every dependency in the archive's package index.
# Only a simulation (-s), without locks and without writing apt's caches.
if compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  empty_status="$TEST_TMPDIR/empty-status"
  : >"$empty_status"
  plan=$(apt-get -s -o Dir::State::status="$empty_status" -o Debug::NoLocking=1 \
           -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
           install "$PWD/$lib_deb" "$PWD/$dev_deb" "$PWD/$cli_deb" 2>&1) ||
    fail "apt-get cannot install the packages on an empty machine: $plan"
  for package in "libsyncstream$soversion" libsyncstream-dev syncstream libabsl20220623; do
    grep -q "^Inst $package " <<<"$plan" || fail "apt-get's plan on an empty machine lacks $package: $plan"
  done
else
  echo "debs_test: no apt package lists (apt-get update); not checking the install on an empty machine"
fi

# Install into an empty dpkg root.
root="$TEST_TMPDIR/root"
rm -rf "$root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status"
dpkg --root="$root" --log=/dev/null --force-not-root --force-depends \
  --force-script-chrootless --no-triggers -i "$lib_deb" "$dev_deb" "$cli_deb" >"$TEST_TMPDIR/dpkg.log" 2>&1 ||
  { cat "$TEST_TMPDIR/dpkg.log"; fail "dpkg -i"; }
for package in "libsyncstream$soversion" libsyncstream-dev syncstream; do
  status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' "$package")
  [[ "$status" == "install ok installed" ]] || fail "$package not installed in the test root"
done
[[ "$(readlink "$root/$libdir/libsyncstream.so.$soversion")" == "libsyncstream.so.$version" ]] ||
  fail "soname link"

[[ "$("$root/usr/bin/syncstream" --version)" == "syncstream $version" ]] || fail "installed syncstream --version"
page=$(MANWIDTH=80 man -l "$root/usr/share/man/man1/syncstream.1.gz" 2>/dev/null)
grep -q "syncstream queue inspect" <<<"$page" || fail "the man page has no 'syncstream queue inspect' section"
registered=$(bash -c 'source "$1" && complete -p syncstream' _ "$root/usr/share/bash-completion/completions/syncstream")
grep -q _syncstream <<<"$registered" || fail "the completion does not register for syncstream"

# The pkg-config consumer against the installed -dev package (prefix=/usr
# in syncstream.pc; --define-variable points it at the test root).
build="$TEST_TMPDIR/build"
mkdir -p "$build"
cp "$consumer_cc" "$build/"
export PKG_CONFIG_PATH="$root/$libdir/pkgconfig"
# shellcheck disable=SC2046,SC2086  # the flags are separate words
c++ -std=c++17 ${CONSUMER_FLAGS:-} -o "$build/consumer" "$build/consumer.cc" \
  $(pkg-config --define-variable=prefix="$root/usr" --cflags --libs syncstream-thread syncstream-proc) \
  -Wl,-rpath,"$root/$libdir"
libraries=$(ldd "$build/consumer")
grep -q "$root/$libdir/libsyncstream.so" <<<"$libraries" || fail "consumer does not load the installed library"
output=$("$build/consumer")
grep -qx "consumer: ok" <<<"$output" || fail "consumer: $output"
echo PASS
