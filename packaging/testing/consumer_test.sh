#!/usr/bin/env bash
# Installs syncstream into a fresh prefix with //packaging:install and
# builds and runs consumer.cc against it, the way a project outside this
# repository would:
#   consumer_test.sh cmake|pkg-config INSTALLER CONSUMER_CC VERSION
# cmake: find_package(syncstream 0.1 COMPONENTS thread proc) (CMakeLists.txt
#   beside consumer.cc); also checks that a request for a newer minor
#   version, or an unknown component, is refused.
# pkg-config: `pkg-config --cflags --libs syncstream-thread syncstream-proc`;
#   also compiles every installed public header in one file.
# $CONSUMER_FLAGS go to the compiler and the linker (a sanitizer, when the
# library was built with one).
set -euo pipefail
mode=$1 installer=$2 consumer_cc=$3 version=$4
flags=${CONSUMER_FLAGS:-}
# The consumer forks while LineProcBuffer's collector thread runs; TSan
# refuses threads in such a child unless told (as line_proc_buffer_test does).
if [[ "${flags:-}" == *-fsanitize=thread* ]]; then
  export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}die_after_fork=0"
fi
src=$(cd "$(dirname "$consumer_cc")" && pwd)
prefix="$TEST_TMPDIR/prefix"
build="$TEST_TMPDIR/build"
rm -rf "$prefix" "$build"
mkdir -p "$build"

"$installer" --prefix="$prefix"
cp "$src/consumer.cc" "$src/CMakeLists.txt" "$build/"  # no syncstream source beside them

case "$mode" in
  cmake)
    cmake -S "$build" -B "$build/out" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$build/configure.log" ||
      { cat "$build/configure.log"; exit 1; }
    cmake --build "$build/out" >"$build/build.log" || { cat "$build/build.log"; exit 1; }
    program="$build/out/consumer"
    # The version file and the component check refuse what is not there.
    for refused in "-DWANTED_VERSION=0.2" "-DWANTED_VERSION=1.0" "-DWANTED_COMPONENT=no_such"; do
      if cmake -S "$build" -B "$build/refused" -DCMAKE_PREFIX_PATH="$prefix" "$refused" \
           >"$build/refused.log" 2>&1; then
        echo "FAIL: find_package accepted $refused"
        exit 1
      fi
      rm -rf "$build/refused"
    done
    ;;
  pkg-config)
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    got=$(pkg-config --modversion syncstream-thread)
    [[ "$got" == "$version" ]] || { echo "FAIL: pkg-config says version '$got', not '$version'"; exit 1; }
    # shellcheck disable=SC2046,SC2086  # the flags are separate words
    c++ -std=c++17 $flags -o "$build/consumer" "$build/consumer.cc" \
      $(pkg-config --cflags --libs syncstream-thread syncstream-proc) \
      -Wl,-rpath,"$prefix/lib"
    program="$build/consumer"
    # Every installed public header compiles with only the installed tree
    # and Debian's headers (none needs a file that was not installed).
    find "$prefix/include" -name '*.h' -not -path '*/internal/*' -printf '#include "%P"\n' |
      sort >"$build/all_headers.cc"
    [[ $(wc -l <"$build/all_headers.cc") -gt 20 ]] || { echo "FAIL: too few headers installed"; exit 1; }
    # shellcheck disable=SC2046,SC2086
    c++ -std=c++17 $flags -fsyntax-only "$build/all_headers.cc" $(pkg-config --cflags syncstream)
    ;;
  *) echo "consumer_test: unknown mode '$mode'" >&2; exit 2 ;;
esac

# The program uses the installed library, not a copy linked in.
libraries=$(ldd "$program")
grep -q "$prefix/lib/libsyncstream.so" <<<"$libraries" ||
  { echo "FAIL: $program does not load $prefix/lib/libsyncstream.so"; echo "$libraries"; exit 1; }
output=$("$program")
echo "$output"
grep -qx "syncstream $version" <<<"$output"
grep -qx "consumer: ok" <<<"$output"
echo "PASS"
