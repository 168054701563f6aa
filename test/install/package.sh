#!/bin/sh
# Unpacks the Debian package $1 into a scratch root under $2 (dpkg-deb -x: no root needed, the
# system is untouched), checks what it holds, then builds and runs test/install/consumer
# against it three ways: find_package(seam) with the static libraries (the default), with the
# shared ones, and with `pkg-config --cflags --libs seam`.
set -eu
deb=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)  # absolute: CMake would read a relative prefix from elsewhere
root=$work/root
dpkg-deb -x "$deb" "$root"
echo "package: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) $(dpkg-deb -f "$deb" Architecture)"
echo "depends: $(dpkg-deb -f "$deb" Depends)"
for f in usr/include/seam/seam.hpp usr/include/seam/version.hpp usr/include/seam/base/export.hpp \
         usr/lib/libseam_arena.a usr/lib/libseam_capnp.a usr/lib/libseam_arena.so \
         usr/lib/libseam_capnp.so usr/lib/cmake/seam/seamConfig.cmake \
         usr/lib/cmake/seam/seam-static-targets.cmake usr/lib/cmake/seam/seam-shared-targets.cmake \
         usr/lib/pkgconfig/seam.pc usr/bin/seam; do
  [ -e "$root/$f" ] || { echo "package: $f missing"; exit 1; }
done
"$root/usr/bin/seam" --version
# Its Depends resolve on this Debian (a simulation: nothing is installed or downloaded).
deb_path=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
apt-get install --simulate --no-install-recommends "$deb_path" >/dev/null

# find_package(seam): static, then shared (CMake puts the package's lib dir in the RPATH).
for shared in OFF ON; do
  cmake -S "$here/consumer" -B "$work/cmake-$shared" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" \
    -DSEAM_SHARED_LIBS=$shared >/dev/null
  cmake --build "$work/cmake-$shared" >/dev/null
  "$work/cmake-$shared/consumer"
done
if ! ldd "$work/cmake-ON/consumer" | grep -q "$root/usr/lib/libseam_arena.so"; then
  echo "package: the shared consumer does not use the package's libseam_arena.so"; exit 1
fi
if ldd "$work/cmake-OFF/consumer" | grep -q libseam_; then
  echo "package: the static consumer loads a shared libseam"; exit 1
fi
# Only the public API leaves the shared libraries: the arena is exported, the heap inside is not.
exported=$(nm -DC --defined-only "$root/usr/lib/libseam_arena.so")
echo "$exported" | grep -q "seam::arena::arena(" || { echo "package: seam::arena not exported"; exit 1; }
if echo "$exported" | grep -q "seam::detail::heap::"; then
  echo "package: libseam_arena.so exports its private heap"; exit 1
fi

# pkg-config: seam.pc finds its prefix from its own place, so no sysroot is needed.
export PKG_CONFIG_PATH="$root/usr/lib/pkgconfig"
# shellcheck disable=SC2046 # one word per flag
c++ -std=c++20 -o "$work/pkg-config-consumer" "$here/consumer/consumer.cpp" \
  $(pkg-config --cflags --libs seam)
ldd "$work/pkg-config-consumer" | grep -q "libseam_arena.so" ||
  { echo "package: pkg-config gave no shared libseam_arena"; exit 1; }
LD_LIBRARY_PATH="$root/usr/lib" "$work/pkg-config-consumer"
