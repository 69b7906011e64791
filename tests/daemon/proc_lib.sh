# proc_lib.sh — shared by the daemon tests that run msgrd processes on this host (no
# namespaces; netns_lib.sh is for those).  Source after setting:
#   BIN (msgrd, msgrctl), PY (python3), T (a fresh temporary folder).
# Gives: PIDS (append every background pid), cleanup on exit (kill, reap, remove T unless
# a failure asked to keep it), fail, until_ok (bounded polling, never a bare sleep),
# has_line, and q (a msgrctl -j answer tested by a Python expression over j).
PIDS=()
KEEP=0
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $KEEP = 1 ]; then echo "logs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
# fail WHY: print it and the tail of every daemon log, keep T, exit 1.  A script may
# define pl_fail_extra to print more first (msgrctl dumps, say).
fail() {
  echo "FAIL: $*"
  if declare -F pl_fail_extra >/dev/null; then pl_fail_extra; fi
  local f
  for f in "$T"/*.err "$T"/*.out; do [ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
  KEEP=1
  exit 1
}
# until_ok SECONDS WHAT CMD...: poll CMD every 50 ms until it succeeds, bounded by the
# clock (CMD itself may be slow on a loaded machine).
until_ok() {
  local secs=$1 what=$2 end; shift 2
  end=$((SECONDS + secs))
  until "$@" 2>/dev/null; do
    [ $SECONDS -ge $end ] && fail "timeout ($secs s): $what"
    sleep 0.05
  done
}
has_line() { grep -q -- "$2" "$1"; }
# q SOCK WHAT EXPR: msgrctl -s SOCK -j WHAT, then EXPR (Python, over j) must be true.
q() {
  "$BIN/msgrctl" -s "$1" -j $2 >"$T/q.json" 2>/dev/null || return 1
  "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" "$T/q.json"
}
