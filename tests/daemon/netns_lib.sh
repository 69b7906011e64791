# tests/daemon/netns_lib.sh — shared by the root cluster tests (cluster_netns.sh,
# kill_netns.sh, garbage_netns.sh).  Sourced (bash).
#
# The cluster (every name carries the test's pid, so parallel runs never collide):
#
#        netns dtA-<pid>                       netns dtB-<pid>
#   [msgrd 4 IOP]==pcie==[msgrd 1]==eth (veth vab/vba)==[msgrd 2]
#                            \                             ||
#           udp over veth vac/vca                 serial: two ptys joined by
#           (NET.1 <-> NET.3, unicast peers)      pty_bridge.py (noise on demand)
#                              \                           ||
#                               [msgrd 3]  netns dtC-<pid>
#
#   A-D: PCIe shim, A host, D IOP (D runs in A's namespace; the shim's setup socket is a
#   path in the test directory, since abstract sockets are per namespace).
#   Sockets, pidfiles and logs of node KEY: $DT/KEY.{sock,pid,out,err}; msgrctl reaches
#   every node from the host namespace (Unix sockets are paths, not per namespace).
#
# Synchronisation is never a sleep: READY lines, msgrctl -j polled against a deadline,
# and process exits.  Deadlines are generous (a loaded 2-CPU box).
#
# Variables: BIN (msgrd, msgrctl, msgr-send, msgr-recv, msgr-dt), PY, HERE (this folder).
# Tunables: TOL (link tolerance, ms), DT_LOG (msgrd log level), DT_KEEP=1 (keep the logs),
# DT_SECS (application timeouts).

dt_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: needs root (network namespaces, veth, AF_PACKET)" >&2
    echo "*** SKIPPED: needs root ***"
    exit 77
  fi
  for t in ip "$PY"; do
    command -v "$t" >/dev/null || { echo "*** SKIPPED: $t not installed ***"; exit 77; }
  done
}

tag=$$
DT=$(mktemp -d /tmp/msgr-dt.XXXXXX)
declare -A DPID=()     # node key -> msgrd pid
declare -a XPIDS=()    # other processes we started
declare -a NSS=()
TOL=${TOL:-1000}       # link tolerance (ms) of every node
# A private /24 from the pid: two parallel runs do not share addresses (namespaces
# would keep them apart anyway).
NET=10.$((100 + tag % 100)).$((tag / 100 % 250))
PORT=$((30000 + tag % 10000 * 2))

dt_cleanup() {
  local p n
  for n in "${!DPID[@]}"; do kill -TERM "${DPID[$n]}" 2>/dev/null; done
  for p in "${XPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for n in "${!DPID[@]}"; do wait "${DPID[$n]}" 2>/dev/null; done
  for p in "${XPIDS[@]}"; do wait "$p" 2>/dev/null; done
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
  if [ "${DT_KEEP:-0}" = 1 ]; then echo "logs kept in $DT"; else rm -rf "$DT"; fi
}
trap dt_cleanup EXIT
trap 'exit 1' INT TERM

# dt_stop_all: SIGTERM every daemon and require a clean exit (status 0: bearers closed,
# socket removed; under ASan a leak or an error at shutdown makes it non-zero).
dt_stop_all() {
  local n rc
  for n in "${!DPID[@]}"; do kill -TERM "${DPID[$n]}" 2>/dev/null; done
  for n in "${!DPID[@]}"; do
    wait "${DPID[$n]}"; rc=$?
    [ $rc -eq 0 ] || dt_fail "msgrd $n exited with status $rc on SIGTERM"
    [ -e "$DT/$n.sock" ] && dt_fail "msgrd $n left its socket behind"
    unset "DPID[$n]"
  done
}

dt_fail() {
  echo "FAIL: $*"
  local f
  for f in "$DT"/*.err "$DT"/*.out; do
    [ -s "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }
  done
  DT_KEEP=1
  exit 1
}

dt_ns() { echo "dt$1-$tag"; }
dt_mkns() {
  local n; n=$(dt_ns "$1")
  ip netns add "$n" || dt_fail "netns add $n"
  NSS+=("$n")
  ip -n "$n" link set lo up
}
# dt_veth KA KB IFA IFB [ADDRA ADDRB]
dt_veth() {
  ip link add "$3" netns "$(dt_ns "$1")" type veth peer name "$4" netns "$(dt_ns "$2")" ||
    dt_fail "veth $3"
  [ -n "${5:-}" ] && ip -n "$(dt_ns "$1")" addr add "$5/24" dev "$3"
  [ -n "${6:-}" ] && ip -n "$(dt_ns "$2")" addr add "$6/24" dev "$4"
  ip -n "$(dt_ns "$1")" link set "$3" up
  ip -n "$(dt_ns "$2")" link set "$4" up
}
dt_mac() { ip -n "$(dt_ns "$1")" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# dt_wait_line FILE PATTERN SECONDS: poll a log for a line (bounded).
dt_wait_line() {
  local i=0
  while ! grep -q -- "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt $(($3 * 20)) ] && dt_fail "timeout waiting for '$2' in $1"
    sleep 0.05
  done
}

# dt_until SECONDS WHAT CMD...: poll CMD until it succeeds (bounded by the clock, not
# by a count of tries: CMD itself may take a while on a loaded box).
dt_until() {
  local secs=$1 what=$2 end; shift 2
  end=$((SECONDS + secs))
  until "$@" 2>/dev/null; do
    [ $SECONDS -ge $end ] && dt_fail "timeout ($secs s): $what"
    sleep 0.05
  done
}

# dt_msgrd KEY NODEID NSKEY BEARER...: start msgrd and wait for its READY line.
# (`ip netns exec` execs msgrd, so $! is msgrd's own pid.)
dt_msgrd() {
  local key=$1 id=$2 nsk=$3; shift 3
  local args=() b
  for b in "$@"; do args+=(--bearer "$b"); done
  : >"$DT/$key.out"
  ip netns exec "$(dt_ns "$nsk")" "$BIN/msgrd" --node-id "$id" --foreground \
    --socket "$DT/$key.sock" --pidfile "$DT/$key.pid" --tolerance "$TOL" \
    --log-level "${DT_LOG:-info}" "${args[@]}" >>"$DT/$key.out" 2>>"$DT/$key.err" &
  DPID[$key]=$!
  dt_wait_line "$DT/$key.out" "READY node=$id" 60
}

# dt_bridge: the serial line between B and C.
dt_bridge() {
  "$PY" "$HERE/pty_bridge.py" "$DT/ser1" "$DT/ser2" "$DT/ser.ctl" >"$DT/bridge.out" 2>"$DT/bridge.err" &
  XPIDS+=($!)
  dt_wait_line "$DT/bridge.out" READY 30
}

# dt_cluster: namespaces, links, bridge and the four daemons, then every link up.
dt_cluster() {
  dt_mkns A; dt_mkns B; dt_mkns C
  dt_veth A B "vab$tag" "vba$tag"
  dt_veth A C "vac$tag" "vca$tag" "$NET.1" "$NET.3"
  dt_bridge
  BA="eth:ifname=vab$tag"
  BA2="udp:bind=$NET.1:$PORT,group=none,peer=$NET.3:$PORT"
  BA3="pcie:name=dt$tag,role=host,sock=$DT/pcie.sock"
  BB="eth:ifname=vba$tag"
  BB2="serial:path=$DT/ser1,reopen_ms=100"
  BC="serial:path=$DT/ser2,reopen_ms=100"
  BC2="udp:bind=$NET.3:$PORT,group=none,peer=$NET.1:$PORT"
  BD="pcie:name=dt$tag,role=iop,sock=$DT/pcie.sock"
  dt_msgrd a 1 A "$BA" "$BA2" "$BA3"
  dt_msgrd b 2 B "$BB" "$BB2"
  dt_msgrd c 3 C "$BC" "$BC2"
  dt_msgrd d 4 A "$BD"
  dt_links a 2 3 4; dt_links b 1 3; dt_links c 1 2; dt_links d 1
}

# dt_links KEY PEER...: wait until KEY has an ESTABLISHED link to each PEER.
dt_links() {
  local key=$1; shift
  local peers="$*"
  dt_until 30 "links of $key to $peers" dt_json "$key" link \
    "all(any(l['peer']==p and l['state']=='ESTABLISHED' for l in j) for p in [${peers// /,}])"
}

# dt_json KEY WHAT PYEXPR: msgrctl -j WHAT on node KEY, true if PYEXPR (j = the JSON) holds.
dt_json() {
  "$BIN/msgrctl" -s "$DT/$1.sock" -j $2 >"$DT/q.$1.json" 2>/dev/null || return 1
  "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" "$DT/q.$1.json"
}

# dt_recv KEY NAME COUNT CLOSES: a checking receiver on node KEY (runs in the background;
# its pid in RPID[NAME]); waits for its READY line.
declare -A RPID=()
dt_recv() {
  local f="$DT/recv.${2//\//_}"
  "$BIN/msgr-dt" recv -s "$DT/$1.sock" -n "$2" -c "$3" -k "$4" -t "${DT_SECS:-300}" >"$f.out" 2>"$f.err" &
  RPID[$2]=$!
  dt_wait_line "$f.out" READY 60
}
# dt_send KEY MYNAME TO COUNT SIZE [msgr-send options]: a sender (background; pid in SPID[MYNAME]).
declare -A SPID=()
dt_send() {
  local key=$1 me=$2 to=$3 n=$4 z=$5; shift 5
  "$BIN/msgr-send" -s "$DT/$key.sock" -d "$me" -o "$to" -c "$n" -z "$z" -t "${DT_SECS:-300}" "$@" \
    >"$DT/send.${me//\//_}.out" 2>"$DT/send.${me//\//_}.err" &
  SPID[$me]=$!
}
# dt_wait_apps: every sender and receiver must exit 0.
dt_wait_apps() {
  local k
  for k in "${!SPID[@]}"; do
    wait "${SPID[$k]}" || dt_fail "sender $k failed: $(cat "$DT/send.${k//\//_}.err")"
    echo "  sender $k: $(cat "$DT/send.${k//\//_}.out")"
  done
  for k in "${!RPID[@]}"; do
    wait "${RPID[$k]}" || dt_fail "receiver $k failed: $(cat "$DT/recv.${k//\//_}.out" "$DT/recv.${k//\//_}.err")"
    echo "  receiver $k: $(tail -n 1 "$DT/recv.${k//\//_}.out")"
  done
  SPID=(); RPID=()
}
