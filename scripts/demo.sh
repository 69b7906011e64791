#!/usr/bin/env bash
# The demo: installs what is missing, builds, and shows Messenger doing its main job as far
# as the stack goes today:
#   1. the wire codec encoding and decoding frames (msgr-codec);
#   2. a simulated cluster running the real protocol core (msgr-sim): nodes discover each
#      other, bring links up, carry messages exactly once across loss, and fail over when a
#      link is cut.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MSGR_ROOT"

msgr_install_missing
msgr_log "building (build/plain)"
msgr_build build/plain >/dev/null

codec=build/plain/proto/msgr-codec
sim=build/plain/stack/sim/msgr-sim

msgr_log "1. the wire codec: a few frames, encoded and decoded"
"$codec" encode-demo

if [ -x "$sim" ]; then
  msgr_log "2. a 4-node simulated cluster, 10% loss, 5% duplication, one link cut"
  "$sim" --nodes 4 --seed 7 --scenario demo
else
  echo "(msgr-sim not built yet)"
fi
msgr_log "done"
