#!/usr/bin/env bash
# scripts/fuzz.sh — a fuzzing campaign with libFuzzer over the fuzz targets (codec, core,
# bearers, microkernel, MINET, msgrd configuration; see fuzz/README.md).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]      (default: 60 s, every target)
#   TARGET is a name from fuzz/CMakeLists.txt (frame, body, serial, ...), with or without
#   the fuzz_ prefix.
# Environment:
#   MSGR_FUZZ_BUILD  build folder (default build/fuzz): clang, -DMSGR_FUZZ=ON -DMSGR_SANITIZE=ON
#   FUZZ_JOBS        targets fuzzed at once (default: number of CPUs)
#   FUZZ_FRESH=1     start from the committed seeds instead of the corpus kept from last time
#
# Each target runs on a work copy of its seed corpus in $MSGR_FUZZ_BUILD/campaign/<target>/corpus
# (kept between runs, so campaigns add up; scripts/coverage.sh replays it too), never in the
# repository.  At the end a table gives, per target: executions, execs/s, coverage (cov:
# edges, ft: features) at start and end, and the corpus size.  Any crash, leak, timeout or
# OOM makes the exit status non-zero and its reproducer is copied into
# fuzz/regressions/<target>/ for triage (it then replays in ctest's fuzz_<target>_replay).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MSGR_FUZZ_BUILD:-$ROOT/build/fuzz}
SECS=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
JOBS=${FUZZ_JOBS:-$(nproc)}

case $SECS in ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

# Configure once (rebuilds are incremental); the build lists the targets it made.
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  echo "=== configuring the libFuzzer build in $BUILD"
  CC=clang cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMSGR_COMPONENTS="proto;stack;fuzz" -DMSGR_FUZZ=ON -DMSGR_SANITIZE=ON >/dev/null || exit 1
fi
all_targets=$(cat "$BUILD/fuzz/targets.txt" 2>/dev/null)
[ -n "$all_targets" ] || { echo "no fuzz targets in $BUILD (is fuzz in MSGR_COMPONENTS?)" >&2; exit 1; }
targets=()
if [ $# -eq 0 ]; then
  read -r -d '' -a targets <<<"$all_targets"
else
  for t in "$@"; do
    t=${t#fuzz_}
    grep -qx "$t" <<<"$all_targets" || { echo "unknown target: $t (have: $(echo $all_targets))" >&2; exit 2; }
    targets+=("$t")
  done
fi

echo "=== building ${#targets[@]} fuzz targets"
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null || {
  echo "build failed; rerun: cmake --build $BUILD" >&2; exit 1; }

bin_of() { find "$BUILD" -type f -name "fuzz_$1" -perm -u+x | head -n 1; }

run_one() { # target
  local t=$1 w="$BUILD/campaign/$1" bin
  bin=$(bin_of "$t")
  [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$w/corpus"
  rm -rf "$w/artifacts"
  mkdir -p "$w/corpus" "$w/artifacts"
  # Seeds only: regressions are replayed by ctest, and one not fixed yet would stop
  # libFuzzer while it loads the corpus.
  find "$ROOT/fuzz/corpus/$t" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$w/corpus/" \;
  "$bin" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=70000 -timeout=25 \
    -dict="$ROOT/fuzz/messenger.dict" -print_final_stats=1 \
    -artifact_prefix="$w/artifacts/" "$w/corpus" >"$w/log" 2>&1
  echo $? >"$w/rc"
}

echo "=== fuzzing ${targets[*]} for ${SECS}s each, $JOBS at a time"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ $running -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

# Report.
status=0
printf '\n%-18s %12s %9s %15s %15s %7s  %s\n' target execs execs/s "cov start>end" \
  "ft start>end" corpus result
for t in "${targets[@]}"; do
  w="$BUILD/campaign/$t"
  log="$w/log"
  rc=$(cat "$w/rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  init=$(grep -m1 -E 'INITED' "$log")
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n1)
  c0=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$init")
  f0=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$init")
  c1=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  f1=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  arts=$(find "$w/artifacts" -type f 2>/dev/null)
  if [ "$rc" != 0 ] || [ -n "$arts" ]; then
    result="FAILED (exit $rc)"
    status=1
    mkdir -p "$ROOT/fuzz/regressions/$t"
    for a in $arts; do
      # Renamed: .gitignore hides crash-*/leak-*/timeout-* so stray artifacts stay out of
      # git; a reproducer for triage should show up in `git status`.
      dst="$ROOT/fuzz/regressions/$t/found-$(basename "$a")"
      cp "$a" "$dst"
      result="$result, reproducer ${dst#$ROOT/}"
    done
  fi
  printf '%-18s %12s %9s %15s %15s %7s  %s\n' "$t" "${execs:-?}" "${eps:-?}" \
    "${c0:-?}>${c1:-?}" "${f0:-?}>${f1:-?}" "${corp:-?}" "$result"
done
echo
echo "logs: $BUILD/campaign/<target>/log"
if [ $status -ne 0 ]; then
  echo "FAILURES: see the logs; reproducers were copied to fuzz/regressions/ (replay:" \
       "$BUILD/fuzz/fuzz_<target> <file>)"
fi
exit $status
