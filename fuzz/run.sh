#!/usr/bin/env bash
# Runs every Seam fuzzer for a bounded time, each on a copy of its seed corpus (the repository
# stays clean), and fails if any of them crashes, hangs, leaks or fails a check.
#
#   fuzz/run.sh <build-dir> <seconds-per-fuzzer>
#
# Prints one line per fuzzer with the executions it did. On a failure, the fuzzer's log tail
# and the input that failed are kept under the run's temp dir (its path is printed); set
# SEAM_FUZZ_KEEP=1 to keep the dir even when everything passes.
set -euo pipefail

if [[ $# -ne 2 || ! "$2" =~ ^[0-9]+$ || "$2" -eq 0 ]]; then
  echo "usage: $0 <build-dir> <seconds-per-fuzzer>" >&2
  exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fuzzers=(frame_fuzzer handle_fuzzer segments_fuzzer arena_header_fuzzer directory_fuzzer ring_fuzzer
         writers_fuzzer)

for name in "${fuzzers[@]}"; do
  if [[ ! -x "$build/fuzz/$name" ]]; then
    echo "$name: not built: configure $build with -DSEAM_BUILD_FUZZERS=ON and build it" >&2
    exit 2
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/seam-fuzz.XXXXXX")

# One fuzzer on a copy of its corpus; its exit status goes to $work/<name>/status.
fuzz_one() {
  local name=$1 status=0
  mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
  cp -r "$here/corpus/$name/." "$work/$name/corpus/"
  find "$work/$name/corpus" -type f | wc -l >"$work/$name/seeds"
  # -timeout: one input taking longer than this is a hang, reported as a failure.
  # -rss_limit_mb: the arenas are small; more than this is a leak or a runaway input.
  # -use_value_profile: guides the fuzzer through multi-field checks (magic, version, size)
  # that -O2 compiles into one branch, so plain edge coverage never rewards half a match.
  "$build/fuzz/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -use_value_profile=1 \
    -print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" \
    "$work/$name/corpus" >"$work/$name/log" 2>&1 || status=$?
  echo "$status" >"$work/$name/status"
}

# As many fuzzers at a time as there are cores: each still gets a whole core for its time.
cores=$(nproc)
running=0
for name in "${fuzzers[@]}"; do
  fuzz_one "$name" &
  running=$((running + 1))
  if [[ $running -ge $cores ]]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
for name in "${fuzzers[@]}"; do
  status=$(cat "$work/$name/status")
  log="$work/$name/log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(find "$work/$name/corpus" -type f | wc -l)
  if [[ $status -eq 0 ]]; then
    printf '%-20s ok      %12s executions in %ss, corpus %d -> %d\n' \
      "$name" "${runs:-?}" "$seconds" "$(cat "$work/$name/seeds")" "$corpus"
  else
    failed=1
    printf '%-20s FAILED  %12s executions, exit status %d; log: %s\n' \
      "$name" "${runs:-?}" "$status" "$log"
    tail -n 60 "$log" | sed 's/^/    /'
    for artifact in "$work/$name/artifacts/"*; do
      [[ -e "$artifact" ]] || continue
      echo "    input: $artifact ($(stat -c %s "$artifact") bytes)"
      od -A d -t x1 "$artifact" | head -n 16 | sed 's/^/      /'
    done
  fi
done

if [[ $failed -ne 0 ]]; then
  echo "fuzzing failed; inputs and logs kept in $work" >&2
  exit 1
fi
if [[ "${SEAM_FUZZ_KEEP:-0}" == 1 ]]; then
  echo "logs and grown corpora kept in $work"
else
  rm -rf "$work"
fi
