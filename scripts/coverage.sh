#!/usr/bin/env bash
# scripts/coverage.sh — line coverage of the codec (proto/src) reached by the fuzz corpora.
#
# Usage: scripts/coverage.sh [--html DIR]
# Builds the replay drivers and the codec with clang source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping) in $MSGR_COV_BUILD (default build/coverage),
# replays every target's committed corpus and regressions, plus the campaign corpora
# scripts/fuzz.sh kept in $MSGR_FUZZ_BUILD/campaign (default build/fuzz/campaign) if present,
# and prints `llvm-cov-14 report` for proto/src.  Target: >= 95% of lines.
# COV_MIN=N makes the exit status non-zero when total line coverage is below N percent.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MSGR_COV_BUILD:-$ROOT/build/coverage}
FUZZ_BUILD=${MSGR_FUZZ_BUILD:-$ROOT/build/fuzz}
HTML=
if [ "${1:-}" = --html ]; then HTML=${2:?--html needs a folder}; fi

PROFDATA=$(command -v llvm-profdata-14 || command -v llvm-profdata)
COV=$(command -v llvm-cov-14 || command -v llvm-cov)
[ -n "$PROFDATA" ] && [ -n "$COV" ] || { echo "needs llvm-14 (llvm-profdata, llvm-cov)" >&2; exit 1; }

echo "=== building with coverage in $BUILD"
CC=clang cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DMSGR_COMPONENTS="${MSGR_COV_COMPONENTS:-proto;fuzz}" \
  -DMSGR_FUZZ=OFF -DMSGR_SANITIZE=OFF \
  -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null || exit 1
targets=$(cat "$BUILD/fuzz/targets.txt")
# Only the replay drivers: other targets (the codec's -nostdlib freestanding proof) cannot
# link the profile runtime.
replays=()
for t in $targets; do replays+=("fuzz_${t}_replay"); done
cmake --build "$BUILD" -j"$(nproc)" --target "${replays[@]}" >/dev/null ||
  { echo "build failed" >&2; exit 1; }

prof="$BUILD/profiles"
rm -rf "$prof"
mkdir -p "$prof"
objects=()
for t in $targets; do
  bin=$(find "$BUILD" -type f -name "fuzz_${t}_replay" -perm -u+x | head -n 1)
  [ -n "$bin" ] || { echo "missing fuzz_${t}_replay" >&2; exit 1; }
  objects+=("$bin")
  dirs=("$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/regressions/$t")
  [ -d "$FUZZ_BUILD/campaign/$t/corpus" ] && dirs+=("$FUZZ_BUILD/campaign/$t/corpus")
  printf '%-18s ' "$t"
  LLVM_PROFILE_FILE="$prof/$t-%p.profraw" "$bin" "${dirs[@]}" | tr -d '\n'
  [ ${#dirs[@]} -gt 2 ] && printf ' (with the campaign corpus)'
  echo
done

"$PROFDATA" merge -sparse "$prof"/*.profraw -o "$prof/merged.profdata" || exit 1
srcs=("$ROOT"/proto/src/*.c)
args=("${objects[0]}")
for o in "${objects[@]:1}"; do args+=(-object "$o"); done

echo
echo "=== line coverage of proto/src (llvm-cov report)"
"$COV" report "${args[@]}" -instr-profile="$prof/merged.profdata" "${srcs[@]}" | tee "$prof/report.txt"
if [ -n "$HTML" ]; then
  "$COV" show "${args[@]}" -instr-profile="$prof/merged.profdata" -format=html \
    -output-dir="$HTML" "${srcs[@]}" && echo "HTML report: $HTML/index.html"
fi

# TOTAL line: ... Lines Missed Cover(%) are columns 8-10.
total=$(awk '/^TOTAL/ {print $10}' "$prof/report.txt" | tr -d '%')
echo
echo "proto/src line coverage: ${total:-?}% (target >= 95%)"
if [ -n "${COV_MIN:-}" ] && [ -n "$total" ]; then
  awk -v t="$total" -v m="$COV_MIN" 'BEGIN { exit !(t + 0 >= m + 0) }' || {
    echo "below COV_MIN=$COV_MIN" >&2; exit 1; }
fi
exit 0
