#!/usr/bin/env bash
# Root test: who may attach to msgrd's client socket (msrv_set_access, srv.c).
#
#   msgrd 1 (root) --socket-group daemon --socket-mode 0666   <- only the daemon's check
#   msgrd 2 (root) --socket-group daemon                      <- file mode 0660 as well
#   clients: msgr-abuse probe run as nobody through setpriv, with and without the group
#
# Checks (each can fail):
#  - socket 1 is world-writable, so the kernel lets anyone connect; the daemon still
#    refuses nobody without the group (probe exit 3) and counts it (stats ipc.refused_attach),
#    and admits nobody with `daemon` as a supplementary group and as its primary group;
#  - socket 2: nobody without the group cannot even connect (EACCES), with it attaches;
#  - root always attaches.
set -uo pipefail
BIN=$1
if [ "$(id -u)" -ne 0 ]; then
  echo "*** SKIPPED: needs root (setuid clients) ***"
  exit 77
fi
for t in setpriv getent; do
  command -v $t >/dev/null || { echo "*** SKIPPED: $t not installed ***"; exit 77; }
done
getent group daemon >/dev/null && id nobody >/dev/null 2>&1 ||
  { echo "*** SKIPPED: needs user nobody and group daemon ***"; exit 77; }
PY=${2:-/usr/bin/python3}
T=$(mktemp -d /tmp/msgr-acc.XXXXXX)
chmod 0755 "$T" # nobody must reach the sockets
. "$(dirname "$0")/proc_lib.sh"
wait_ready() {
  local end=$((SECONDS + 30))
  until grep -q READY "$1"; do [ $SECONDS -ge $end ] && fail "no READY in $1"; sleep 0.05; done
}
# as_nobody GROUPS-ARGS... -- probe SOCK: exit status of the probe
probe() { # probe SOCK SETPRIV-ARGS...
  local s=$1; shift
  setpriv --reuid nobody "$@" "$BIN/msgr-abuse" probe -s "$s"
}

"$BIN/msgrd" --node-id 1 --foreground --socket "$T/a.sock" --socket-group daemon --socket-mode 0666 \
  --bearer "udp:bind=127.0.0.1:0,group=none" >"$T/a.out" 2>"$T/a.err" & PIDS+=($!)
"$BIN/msgrd" --node-id 2 --foreground --socket "$T/b.sock" --socket-group daemon \
  --bearer "udp:bind=127.0.0.1:0,group=none" >"$T/b.out" 2>"$T/b.err" & PIDS+=($!)
wait_ready "$T/a.out"
wait_ready "$T/b.out"
[ "$(stat -c %a:%G "$T/a.sock")" = "666:daemon" ] || fail "socket 1: $(stat -c %a:%G "$T/a.sock")"

out=$(probe "$T/a.sock" --regid nogroup --clear-groups); rc=$?
[ $rc -eq 3 ] || fail "nobody without the group: exit $rc ($out), want 3 (refused by the daemon)"
echo "  socket 0666, nobody without the group: $out"
out=$(probe "$T/a.sock" --regid nogroup --groups daemon) || fail "nobody with the supplementary group: $out"
echo "  socket 0666, nobody with supplementary group daemon: $out"
out=$(probe "$T/a.sock" --regid daemon --clear-groups) || fail "nobody with primary group daemon: $out"
echo "  socket 0666, nobody with primary group daemon: $out"
out=$("$BIN/msgr-abuse" probe -s "$T/a.sock") || fail "root: $out"
n=$("$BIN/msgrctl" -s "$T/a.sock" -j stats | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ipc"]["refused_attach"])')
[ "$n" = 1 ] || fail "refused_attach = $n, want 1"
echo "  refused_attach counted: $n"

out=$(probe "$T/b.sock" --regid nogroup --clear-groups); rc=$?
[ $rc -eq 3 ] && [[ "$out" == *"Permission denied"* ]] ||
  fail "socket 0660, nobody without the group: exit $rc ($out), want EACCES"
echo "  socket 0660, nobody without the group: $out"
out=$(probe "$T/b.sock" --regid nogroup --groups daemon) || fail "socket 0660 with the group: $out"
echo "  socket 0660, nobody with the group: $out"
echo "daemon_access_root: ok"
