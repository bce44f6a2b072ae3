#!/usr/bin/env bash
# build_debs.sh: the Debian packages of syncstream, from an install tree
# with prefix /usr (see //packaging:debs). Run by Bazel:
#
#   build_debs.sh INSTALLER TREE VERSION SOVERSION ARCH MULTIARCH LICENSE \
#                 CHANGELOG OUT_LIB OUT_DEV OUT_CLI
#
#   libsyncstreamSOVERSION  the shared library (its soname link, ldconfig)
#   libsyncstream-dev       headers, the .so link, pkg-config and CMake files
#   syncstream              the command, its man page and bash completion
#
# Dependencies are Debian's own packages: dpkg-shlibdeps reads them from
# the ELF files; the -dev package's come from the -l flags of syncstream.pc
# (the Bazel build's), each mapped with `dpkg -S` to the package that owns
# the library. Every file of the tree must land in one package.
set -euo pipefail

installer=$1 tree=$2 version=$3 soversion=$4 arch=$5 multiarch=$6
license=$7 changelog=$8 out_lib=$9 out_dev=${10} out_cli=${11}

host_arch=$(dpkg --print-architecture)
if [[ "$host_arch" != "$arch" ]]; then
  echo "build_debs: building $arch packages on a $host_arch machine is not supported" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
"$installer" --from="$tree" --prefix="$stage/usr" >/dev/null

lib_pkg="libsyncstream$soversion"
maintainer="syncstream developers <syncstream@invalid.invalid>"
libdir="usr/lib/$multiarch"

# move PACKAGE PATH...: moves PATHs (relative to the stage) into PACKAGE.
move() {
  local package=$1 path
  shift
  for path in "$@"; do
    [[ -e "$stage/$path" || -L "$stage/$path" ]] || {
      echo "build_debs: $path is not in the install tree" >&2
      exit 1
    }
    mkdir -p "$work/$package/$(dirname "$path")"
    mv "$stage/$path" "$work/$package/$path"
  done
}
move "$lib_pkg" "$libdir/libsyncstream.so.$version" "$libdir/libsyncstream.so.$soversion"
move libsyncstream-dev usr/include "$libdir/libsyncstream.so" "$libdir/pkgconfig" "$libdir/cmake"
move syncstream usr/bin usr/share/man usr/share/bash-completion
rm -r "$stage/usr/share/doc/syncstream"  # LICENSE and CHANGELOG.md, placed below
leftover=$(find "$stage" -not -type d)
if [[ -n "$leftover" ]]; then
  echo "build_debs: files of the install tree in no package:" $leftover >&2
  exit 1
fi

strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  "$work/$lib_pkg/$libdir/libsyncstream.so.$version" "$work/syncstream/usr/bin/syncstream"
gzip -9n "$work/syncstream/usr/share/man/man1/syncstream.1"
for package in "$lib_pkg" libsyncstream-dev syncstream; do
  doc="$work/$package/usr/share/doc/$package"
  mkdir -p "$doc"
  {
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: syncstream"
    echo
    echo "Files: *"
    echo "Copyright: syncstream developers"
    echo "License: Expat"
    sed -e 's/^$/./' -e 's/^/ /' "$license"
  } >"$doc/copyright"
  gzip -9n <"$changelog" >"$doc/changelog.gz"
done

# dpkg-shlibdeps wants to run inside a source package: give it a minimal one.
mkdir -p "$work/src/debian"
printf 'Source: syncstream\n\nPackage: syncstream\nArchitecture: any\n' >"$work/src/debian/control"
shlibs_depends() {
  (cd "$work/src" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}
lib_depends=$(shlibs_depends "$work/$lib_pkg/$libdir/libsyncstream.so.$version")
cli_depends=$(shlibs_depends "$work/syncstream/usr/bin/syncstream")

# The -dev package: the packages that own the libraries syncstream.pc links.
libs=$(sed -n 's/^Libs: //p' "$work/libsyncstream-dev/$libdir/pkgconfig/syncstream.pc")
dev_depends="$lib_pkg (= $version)"
dev_packages=()
for flag in $libs; do
  name=${flag#-l}
  [[ "$flag" == -l* && "$name" != syncstream ]] || continue
  owner=""
  for file in "/usr/lib/$multiarch/lib$name.so" "/usr/lib/$multiarch/lib$name.a" \
              "/lib/$multiarch/lib$name.so" "/usr/lib/lib$name.so"; do
    [[ -e "$file" ]] || continue
    owner=$(dpkg -S "$file" 2>/dev/null | head -n1 | cut -d: -f1) && [[ -n "$owner" ]] && break
  done
  if [[ -z "$owner" ]]; then
    echo "build_debs: no Debian package owns the library of $flag" >&2
    exit 1
  fi
  dev_packages+=("$owner")
done
for owner in $(printf '%s\n' "${dev_packages[@]}" | sort -u); do
  dev_depends="$dev_depends, $owner"
done

# control PACKAGE SECTION DEPENDS MULTI_ARCH SUMMARY DESCRIPTION
control() {
  local package=$1
  mkdir -p "$work/$package/DEBIAN"
  {
    echo "Package: $package"
    echo "Source: syncstream"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$work/$package" | cut -f1)"
    echo "Depends: $3"
    [[ -z "$4" ]] || echo "Multi-Arch: $4"
    echo "Section: $2"
    echo "Priority: optional"
    echo "Description: $5"
    echo "$6" | fold -s -w 72 | sed -e 's/ *$//' -e 's/^/ /'
  } >"$work/$package/DEBIAN/control"
  (cd "$work/$package" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
     sort -z | xargs -0 md5sum) >"$work/$package/DEBIAN/md5sums"
}
about="syncstream gathers the lines written concurrently by threads, processes and hosts into one ordered stream in which no two lines are ever interleaved."
control "$lib_pkg" libs "$lib_depends" same \
  "ordered, never-interleaved lines from threads, processes and hosts" \
  "$about This package holds the shared library."
echo "libsyncstream $soversion $lib_pkg (>= $version)" >"$work/$lib_pkg/DEBIAN/shlibs"
echo "activate-noawait ldconfig" >"$work/$lib_pkg/DEBIAN/triggers"
control libsyncstream-dev libdevel "$dev_depends" same \
  "ordered, never-interleaved lines from threads, processes and hosts (development files)" \
  "$about This package holds the C++ headers, the pkg-config modules and the CMake package (find_package(syncstream))."
control syncstream utils "$cli_depends" "" \
  "inspect and drive syncstream buffers, queues and collectors" \
  "$about This package holds the syncstream command: it reads collectors, tails shared-memory queues and file buffers, runs commands with unmixed output, and serves a Manager."

for pair in "$lib_pkg:$out_lib" "libsyncstream-dev:$out_dev" "syncstream:$out_cli"; do
  package=${pair%%:*}
  find "$work/$package" -type d -exec chmod 0755 {} +
  chmod 0644 "$work/$package/DEBIAN/"*
  dpkg-deb --root-owner-group -Zxz --build "$work/$package" "${pair#*:}" >/dev/null
done
