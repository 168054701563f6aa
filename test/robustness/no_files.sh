#!/bin/sh
# Runs the given test programs in a scratch directory and checks that nothing appeared in it
# or in /dev/shm: Seam names nothing in the filesystem (memfds and abstract sockets only).
set -eu
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
shm_before=$(ls -A /dev/shm | sort)
for program in "$@"; do
  "$program" >"$scratch.log" 2>&1 || { cat "$scratch.log"; rm -f "$scratch.log"; exit 1; }
done
rm -f "$scratch.log"
shm_after=$(ls -A /dev/shm | sort)
left=$(ls -A .)
if [ "$shm_before" != "$shm_after" ]; then
  echo "new in /dev/shm:"; echo "$shm_after" | grep -vxF "$shm_before" || true; exit 1
fi
if [ -n "$left" ]; then echo "left in the working directory: $left"; exit 1; fi
echo "nothing left behind by $# test programs"
