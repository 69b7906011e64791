#!/usr/bin/env bash
# The test command: installs what is missing (as root), builds twice — plain (gcc) and
# ASan+UBSan (clang, with the libFuzzer targets) — and runs every test in both.
# Usage: scripts/test.sh            (MSGR_FUZZ_SECONDS=N sets each short fuzz run, default 10)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MSGR_ROOT"

if [ "$(id -u)" -ne 0 ]; then
  echo "WARNING: not running as root: tests that need root (network namespaces, raw sockets," >&2
  echo "WARNING: TAP devices) will report SKIPPED. CI runs as root and runs them." >&2
fi

msgr_install_missing || { echo "package installation failed" >&2; exit 1; }

status=0
run_suite() { # name builddir cmake-args...
  local name=$1 dir=$2; shift 2
  msgr_log "[$name] configure + build in $dir"
  if ! msgr_build "$dir" "$@"; then
    echo "[$name] BUILD FAILED" >&2; status=1; return
  fi
  msgr_log "[$name] ctest"
  (cd "$dir" && ctest --output-on-failure -j"$(nproc)" --timeout 600) || status=1
}

run_suite plain build/plain
CC=clang run_suite asan-ubsan build/asan -DMSGR_SANITIZE=ON -DMSGR_FUZZ=ON \
  -DMSGR_FUZZ_SECONDS="${MSGR_FUZZ_SECONDS:-10}"

if [ $status -eq 0 ]; then msgr_log "ALL SUITES PASSED"; else msgr_log "FAILURES (see above)"; fi
exit $status
