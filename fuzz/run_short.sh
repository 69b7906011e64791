#!/bin/sh
# fuzz/run_short.sh — one bounded libFuzzer run, as ctest's fuzz_<target>_short runs it.
# Usage: run_short.sh BINARY SECONDS WORKDIR DICT SEED_DIR...
# The seed folders are copied into WORKDIR/corpus first: libFuzzer writes new inputs into
# its first folder, and that must never be the repository.  Crash reproducers land in
# WORKDIR/artifacts/ (scripts/fuzz.sh copies them to fuzz/regressions/ for triage).
set -eu
bin=$1 secs=$2 work=$3 dict=$4
shift 4
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
for d in "$@"; do
  [ -d "$d" ] || continue
  find "$d" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$work/corpus/" \;
done
exec "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=70000 -timeout=25 \
  -dict="$dict" -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus"
