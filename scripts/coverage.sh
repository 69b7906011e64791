#!/usr/bin/env bash
# scripts/coverage.sh — line coverage of the codec (proto/src) and of the stack's input
# paths (stack/core, bearers, microkernel, MINET, msgrd's config) reached by the fuzz corpora.
#
# Usage: scripts/coverage.sh [--html DIR]
# Builds the replay drivers and the codec with clang source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping) in $MSGR_COV_BUILD (default build/coverage),
# replays every target's committed corpus and regressions, plus the campaign corpora
# scripts/fuzz.sh kept in $MSGR_FUZZ_BUILD/campaign (default build/fuzz/campaign) if present,
# and prints `llvm-cov-14 report` for proto/src (target: >= 95% of lines), then for
# stack/core (the node and node_paths targets; target >= 85%), for the core's input
# paths (CORE_INPUT_FUNCS below; target >= 85%) and for the other stack files a target
# reaches (bearers, stack/ha, stack/minet, msgrd's configuration parser).
# COV_MIN=N makes the exit status non-zero when proto/src line coverage is below N percent;
# CORE_MIN=N the same for stack/core, INPUT_MIN=N for the core's input paths (the
# functions in CORE_INPUT_FUNCS below; the node and node_paths targets).
# MSGR_COV_COMPONENTS (default "proto;stack;fuzz") narrows the build: "proto;fuzz" is
# quicker and reports proto/src only.
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
CC=clang cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DMSGR_COMPONENTS="${MSGR_COV_COMPONENTS:-proto;stack;fuzz}" \
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
status=0
if [ -n "${COV_MIN:-}" ] && [ -n "$total" ]; then
  awk -v t="$total" -v m="$COV_MIN" 'BEGIN { exit !(t + 0 >= m + 0) }' || {
    echo "below COV_MIN=$COV_MIN" >&2; status=1; }
fi

# The stack: the core (input paths: frames from bearers, timers, application calls) and
# the other parsers of outside bytes, each in the report only if its target was built.
report() { # title min-var files...
  local title=$1 min=$2; shift 2
  local files=() f
  for f in "$@"; do [ -f "$f" ] && files+=("$f"); done
  [ ${#files[@]} -gt 0 ] || return 0
  echo
  echo "=== line coverage of $title (llvm-cov report)"
  "$COV" report "${args[@]}" -instr-profile="$prof/merged.profdata" "${files[@]}" |
    tee "$prof/report-${title//\//_}.txt"
  local t
  t=$(awk '/^TOTAL/ {print $10}' "$prof/report-${title//\//_}.txt" | tr -d '%')
  echo "$title line coverage: ${t:-?}%"
  if [ -n "$min" ] && [ -n "$t" ]; then
    awk -v t="$t" -v m="$min" 'BEGIN { exit !(t + 0 >= m + 0) }' || {
      echo "below $min" >&2; status=1; }
  fi
}
grep -qx node <<<"$targets" && report stack/core "${CORE_MIN:-}" "$ROOT"/stack/core/*.c

# The core's input paths: what a received frame reaches, from mc_input down to the
# layers (links, channels, naming, paths, secured links).  Output-side code (timers,
# the send API, introspection) is left out: the goal is that every way a hostile or
# broken peer can drive the node is exercised.  One name per function; static functions
# appear in llvm-cov as "file.c:name".
CORE_INPUT_FUNCS="
  mc_input mc__input_inner input_frame on_discover on_link_ctl check_incarnation check_epoch
  mc__link_on_ctl mc__link_on_state mc__link_on_seq accept_seq hold_ooo process_ack
  process_gaps learn establish activate_answers_us rtt_sample
  mc__deliver_frame rx_msg rx_fragment rx_void void_position_ok hold_msg drain_held
  deliver_msg is_name_type is_path_frame
  mn_apply mn_apply_publish mn_apply_withdraw mn_apply_sync mn_put mn_check_rec
  mpa_input mpa_input_void mpa_on_open mpa_process mpa_sequence mpa_hold_copy mpa_dst_ok
  mpa_answer_late_accept mpa_live
  mc__sec_input on_kx on_secured inner_ctl_ok on_ready mc__sec_plain_ok mc__sec_peer_policy
  mc__sec_admit"
if grep -qx node <<<"$targets"; then
  echo
  echo "=== line coverage of the core's input paths (per function: lines, missed)"
  "$COV" report "${args[@]}" -instr-profile="$prof/merged.profdata" -show-functions \
    "$ROOT"/stack/core/*.c 2>/dev/null >"$prof/report-core-functions.txt"
  in_total=$(awk -v list="$CORE_INPUT_FUNCS" '
    BEGIN { n = split(list, a, /[ \n]+/); for (i = 1; i <= n; i++) if (a[i] != "") want[a[i]] = 1 }
    /^File / { file = $2; gsub(/[\x27:]/, "", file); sub(/.*\//, "", file) }
    NF == 10 && $5 ~ /^[0-9]+$/ {
      name = $1; sub(/^.*:/, "", name)
      if (!(name in want)) next
      seen[name] = 1; lines += $5; missed += $6
      printf "  %-12s %-26s %5d %5d\n", file, name, $5, $6 > "/dev/stderr"
    }
    END {
      for (w in want) if (!(w in seen)) printf "  (not found: %s)\n", w > "/dev/stderr"
      if (lines) printf "%.2f %d %d", 100 * (lines - missed) / lines, lines, missed
    }' "$prof/report-core-functions.txt" 2>&1 >"$prof/core-input.txt")
  echo "$in_total"
  read -r in_pct in_lines in_missed <"$prof/core-input.txt"
  echo "stack/core input-path line coverage: ${in_pct:-?}% ($in_lines lines, $in_missed missed; target >= 85%)"
  if [ -n "${INPUT_MIN:-}" ] && [ -n "${in_pct:-}" ]; then
    awk -v t="$in_pct" -v m="$INPUT_MIN" 'BEGIN { exit !(t + 0 >= m + 0) }' || {
      echo "below INPUT_MIN=$INPUT_MIN" >&2; status=1; }
  fi
fi
bearer=()
for t in pcie udp eth; do grep -qx "$t" <<<"$targets" && bearer+=("$ROOT/stack/bearer/$t.c"); done
grep -qx eth <<<"$targets" && bearer+=("$ROOT/stack/bearer/eth_pcap.c")
[ ${#bearer[@]} -gt 0 ] && report stack/bearer "" "${bearer[@]}"
grep -qx mk <<<"$targets" && report stack/ha "" "$ROOT"/stack/ha/*.c
grep -qx minet <<<"$targets" && report stack/minet "" "$ROOT/stack/minet/sw.c" "$ROOT/stack/minet/port.c"
grep -qx conf <<<"$targets" && report stack/daemon/conf "" "$ROOT"/stack/daemon/conf*.c
exit $status
