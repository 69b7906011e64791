#!/usr/bin/env python3
"""IOP hot swap with real processes (no root needed): msgrd's IOP manager (entity 3)
boots two IOP msgrds over the PCIe shim, and a checkpointing receiver of a reliable
stream moves between them on a planned extraction, a re-insertion and a surprise
extraction, while the stream runs.

    host msgrd, node 1: FTM, IOP manager, checkpoint store
      |   '-- msgr-ha-stream source: path to "app/sink", message n carries n
      |-- pcie shim io1 --> IOP msgrd node 11 (child of the host; `msgrctl iop boot io1`)
      |                      '-- msgr-ha-stream sink "app/sink" (entity 0x100, home 11,
      |                          standby 12): consumes n, checkpoints n+1 to the host's
      |                          store, counts n once the store acknowledged it
      '-- pcie shim io2 --> IOP msgrd node 12 (`msgrctl iop boot io2`; sink configured)

Whoever opens a path to the sink first asks where to start and gets its checkpointed
position, so the source re-sends what a lost instance had not consumed (RFC 10.9); the
sink skips what its state already holds.  Its log (msgr-ha-stream.c) gives, per
instance, what was restored and every message consumed.

  1. planned `msgrctl iop extract io1` under that traffic: io1 quiesces (the sink ends the
     message in progress, its checkpoint acknowledged, and exits), drains, the FTM moves
     the sink to node 12, io1 is removed (HOLD, slot empty).  Asserted: the new instance
     restored exactly the last message the old one consumed and consumes the next one:
     no message lost, none consumed twice.
  2. `msgrctl iop insert io1`: io1 is configured, booted and OPERATIONAL again (N+1: the
     app stays on node 12).
  3. `msgrctl iop extract io2 --surprise`: io2's msgrd and the sink are SIGKILLed with
     it, the loss is reported at once, the FTM moves the sink back to node 11, which
     restores the last checkpoint the store acknowledged (the last message logged as
     consumed, or the one after it when the store acknowledged a save whose ACK died with
     the board).  Asserted: no message lost, none consumed twice.
  4. `msgrctl iop insert io2`: io2 rejoins (OPERATIONAL).
Illegal transitions are refused with an error naming the state (boot of a serving IOP,
boot into an empty slot, a planned extraction of an empty slot).  States and counters
come from `msgrctl -j iop`.  Times are printed, not asserted.  No sleep as
synchronisation: bounded polls of msgrctl -j and the log.

usage: msgrd_iop_hotswap.py BIN_DIR      (KEEP=1 keeps the logs of a passing run)
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ha_lib  # noqa: E402  (this folder, from any working directory)

run = ha_lib.Run(sys.argv[1], "msgr-iop.", logs=("host.err", "app.log", "source.log"), tail=40)
LOG = run.path("app.log")
APP = run.exe("msgr-ha-stream")
SRCLOG = run.path("source.log")
HOST = run.path("host.sock")
ctl = run.ctl
fail = run.fail
until = run.until
stop = run.stop


def diagnose():
    print("--- msgrctl iop:", ctl(HOST, "iop", json_out=False))
    print("--- msgrctl ha:", ctl(HOST, "ha", json_out=False))


run.diagnose = diagnose

entity3 = {}


def iops():
    j = ctl(HOST, "iop")
    if not j or not j.get("iop_manager"):
        return None
    entity3.update(j["entity3"])
    for x in j["iops"]:
        if x["pid"] > 0:
            run.pgroups.add(x["pid"])  # killed by stop(), even after a failure
    return {x["name"]: x for x in j["iops"]}


def iop_is(name, state, present=True):
    i = iops()
    return i[name] if i and i[name]["state"] == state and i[name]["present"] == present and \
        i[name]["op"] == "none" else None


def ftm_ent(i):
    return ha_lib.ftm_entity(ctl(HOST, "ha"), i)


def app_on(name, after_ns):
    a = run.proc(run.sock(name))
    return a if a and a["state"] == "running" and a["registered_ns"] > after_ns else None


def log_lines():
    return ha_lib.lines(LOG)


def instances():
    """[(pid, restored or None, [acked...], quiesced or None)] in log order."""
    out = []
    for l in log_lines():
        w = l.split()
        if w[0] == "start":
            r = w[2].split("=")[1]
            out.append([int(w[1].split("=")[1]), None if r == "none" else int(r), [], None])
        elif w[0] == "acked" and out:
            out[-1][2].append(int(w[1]))
        elif w[0] == "quiesced" and out:
            out[-1][3] = int(w[1].split("=")[1])
    return out


def acked_total():
    return sum(len(i[2]) for i in instances())


def iop(*args):
    """msgrctl iop ARGS on the host, which must succeed."""
    r = ctl(HOST, "iop", *args, json_out=False, ok=False)
    if r.returncode != 0:
        fail("iop %s: %s%s" % (" ".join(args), r.stdout, r.stderr))


def refused(args, what):
    r = ctl(HOST, *args, json_out=False, ok=False)
    if r.returncode == 0 or "refused" not in (r.stdout + r.stderr):
        fail("%s was not refused: rc %d %s%s" % (what, r.returncode, r.stdout, r.stderr))
    print("refused as it should: %s: %s" % (what, (r.stdout + r.stderr).strip()))


# ---- set-up ------------------------------------------------------------------------------
EXEC = """tolerance = 200
[ha]
ftm = off
ftm_node = 1
hb_period_ms = 100
[exec]
name = app
command = %s sink %s app/sink
entity = 0x100
home = 11
standby = 12
on_crash = restart
""" % (APP, LOG)
for n in ("io1", "io2"):
    run.write(n + ".conf", EXEC)
conf = "[ha]\nftm = active\nhb_period_ms = 100\n"
for n, node, slot, sb in (("io1", 11, 1, "io2"), ("io2", 12, 2, "io1")):
    conf += ("[iop %s]\nnode = %d\nslot = %d\nconfig = %s\nsocket = %s\nshim_sock = %s\nstandby = %s\n"
             "drain_ms = 20000\nboot_ms = 20000\n") % (n, node, slot, run.path(n + ".conf"),
                                                      run.sock(n), run.path(n + ".shim"), sb)
out = run.msgrd("host", 1, HOST, run.write("host.conf", conf), "host", tolerance=200)
until(20, "host ready", lambda: run.ready(out))
i = until(5, "both IOPs in HOLD (board present, window open)",
          lambda: iop_is("io1", "HOLD") and iop_is("io2", "HOLD") and iops())
if i["io1"]["slot"] != 1 or i["io2"]["node"] != 12:
    fail("iop list: %s" % i)
refused(["iop", "extract", "io1"], "planned extraction of an IOP in HOLD")

t_boot = time.monotonic_ns()
for n in ("io1", "io2"):
    iop("boot", n)
b = until(30, "io1 and io2 OPERATIONAL",
          lambda: iop_is("io1", "OPERATIONAL") and iop_is("io2", "OPERATIONAL") and iops())
print("boot: io1 OPERATIONAL %.1f ms, io2 %.1f ms after `iop boot`" %
      ((b["io1"]["times_ns"]["operational"] - t_boot) / 1e6, (b["io2"]["times_ns"]["operational"] - t_boot) / 1e6))
refused(["iop", "boot", "io1"], "boot of an OPERATIONAL IOP")
for n in ("io1", "io2"):
    if "IOP_STATE OPERATIONAL" not in b[n]["evidence"] or b[n]["last_report"] != "OPERATIONAL":
        fail("%s OPERATIONAL without its IOP_STATE report: %s" % (n, b[n]))
until(20, "app on node 11 registered with the FTM",
      lambda: app_on("io1", 0) and (lambda e: e and e["node"] == 11 and e["state"] == "UP")(ftm_ent(0x100)))
run.procs["source"] = subprocess.Popen([APP, "source", "-s", HOST, "app/sink", SRCLOG],
                                      stderr=open(run.path("source.err"), "w"))
until(20, "the stream consumed by the sink on node 11", lambda: acked_total() >= 20)


def source_log():
    return ha_lib.lines(SRCLOG)


def check_sink_log():
    bad = [l for l in log_lines() if l.startswith("gap") or l.startswith("error")]
    if bad:
        fail("sink log: %s" % bad[:5])


def app_moved(name, node, t, running, consumed):
    """After a switch-over at t: the app runs on IOP name (node) and the FTM shows it UP
    there, and the stream goes on (20 more messages consumed, no gap).  Its proc entry."""
    a = until(15, running, lambda: app_on(name, t))
    until(10, "FTM shows the app UP on node %d" % node,
          lambda: (lambda e: e and e["node"] == node and e["state"] == "UP")(ftm_ent(0x100)))
    n_before = acked_total()
    until(10, consumed, lambda: acked_total() >= n_before + 20)
    check_sink_log()
    return a

# ---- 1. planned extraction under traffic --------------------------------------------------
old = instances()[-1]
t0 = time.monotonic_ns()
iop("extract", "io1")
x = until(15, "io1 removed (HOLD, slot empty)", lambda: iop_is("io1", "HOLD", present=False))
a2 = app_moved("io2", 12, t0, "app running on node 12", "the stream consumed by the new instance")
ins = instances()
old = [i for i in ins if i[0] == old[0]][0]
new = [i for i in ins if i[0] == a2["pid"]]
if not new:
    fail("no log of the instance on node 12 (pid %d)" % a2["pid"])
new = new[0]
if old[3] is None or old[3] != old[2][-1]:
    fail("the old instance did not quiesce after its last acknowledged step: pid %d, last acked %s, "
         "quiesced %s" % (old[0], old[2][-3:], old[3]))
if new[1] != old[2][-1]:
    fail("planned: restored %s, but the last acknowledged count was %d" % (new[1], old[2][-1]))
if new[2][0] != new[1] + 1:
    fail("planned: first count after the restore %d, restored %d" % (new[2][0], new[1]))
if new is not ins[-1] or ins[-2] is not old:
    fail("planned: another instance ran between: %s" % [(i[0], i[1]) for i in ins])
if x["counters"]["planned_extractions"] != 1 or x["counters"]["drain_timeouts"] != 0:
    fail("io1 counters: %s" % x["counters"])
tn = x["times_ns"]
print("planned extraction of io1 under traffic: quiesced+drained %.1f ms, switch-over reported, "
      "removed %.1f ms after the command; app up on node 12 (restored %d = last acked, next %d) "
      "%.1f ms after the command" % ((tn["drained"] - t0) / 1e6, (tn["removed"] - t0) / 1e6, new[1],
                                     new[2][0], (a2["registered_ns"] - t0) / 1e6))
refused(["iop", "boot", "io1"], "boot into an empty slot")

# ---- 2. re-insertion ---------------------------------------------------------------------
t1 = time.monotonic_ns()
iop("insert", "io1")
y = until(30, "io1 OPERATIONAL again", lambda: iop_is("io1", "OPERATIONAL"))
until(10, "node 11 UP again in the FTM", lambda: (lambda e: e and e["state"] == "UP")(ftm_ent(11)))
if not app_on("io2", t0):
    fail("the app left node 12 on re-insertion of io1")
print("re-insertion of io1: OPERATIONAL %.1f ms after `iop insert` (insertions %d)" %
      ((y["times_ns"]["operational"] - t1) / 1e6, y["counters"]["insertions"]))

# ---- 3. surprise extraction ----------------------------------------------------------------
n_before = acked_total()
until(10, "traffic on node 12", lambda: acked_total() >= n_before + 20)
t2 = time.monotonic_ns()
iop("extract", "io2", "--surprise")
z = until(10, "io2 FAILED with an empty slot", lambda: iop_is("io2", "FAILED", present=False))
a3 = app_moved("io1", 11, t2, "app running on node 11 again",
               "the stream consumed by the instance on node 11")
ins = instances()
gone = [i for i in ins if i[0] == a2["pid"]][0]
back = [i for i in ins if i[0] == a3["pid"]]
if not back:
    fail("no log of the instance back on node 11 (pid %d)" % a3["pid"])
back = back[0]
k = gone[2][-1]
if back[1] not in (k, k + 1):
    fail("surprise: restored %s, last acknowledged before the extraction %d" % (back[1], k))
if back[2][0] != back[1] + 1:
    fail("surprise: first count after the restore %d, restored %d" % (back[2][0], back[1]))
if ins[-1] is not back or ins[-2] is not gone:
    fail("surprise: another instance ran between: %s" % [(i[0], i[1]) for i in ins])
if z["counters"]["surprise_extractions"] != 1:
    fail("io2 counters: %s" % z["counters"])
print("surprise extraction of io2: app up on node 11 %.1f ms after the pull (restored %d, last "
      "acked %d)" % ((a3["registered_ns"] - t2) / 1e6, back[1], k))
refused(["iop", "extract", "io2"], "planned extraction of an empty slot")

# ---- 4. re-insertion of the pulled board -----------------------------------------------------
t3 = time.monotonic_ns()
iop("insert", "io2")
w = until(30, "io2 OPERATIONAL again", lambda: iop_is("io2", "OPERATIONAL"))
print("re-insertion of io2: OPERATIONAL %.1f ms after `iop insert`" %
      ((w["times_ns"]["operational"] - t3) / 1e6))

# The whole stream: every instance continued from what the store held, never behind it.
ins = instances()
for a, b in zip(ins, ins[1:]):
    if b[1] is None or b[1] < a[2][-1] or b[1] > a[2][-1] + 1:
        fail("instance %d restored %s after %d ended at %d" % (b[0], b[1], a[0], a[2][-1]))
for i in ins:
    if any(y != x + 1 for x, y in zip(i[2], i[2][1:])):
        fail("instance %d skipped or repeated a count" % i[0])
e = ftm_ent(0x100)
if e["failovers"] != 2:
    fail("FTM failovers of the app: %d, expected 2" % e["failovers"])
log = ctl(HOST, "ha")["ftm"]["log"]
loss = [(x["entity"], x["reason"]) for x in log if x["trigger"] == "node-loss"]
print("FTM node-loss decisions (entity, reason): %s" % loss)
# The IOP manager reports each loss with its cause: planned (10, MP_R_APP_CLOSE) for io1,
# surprise (6, MP_R_PEER_DOWN) for io2, and the app followed each.
if [l for l in loss if l[0] in (11, 12)] != [(11, 10), (12, 6)] or \
        [l for l in loss if l[0] == 0x100] != [(0x100, 10), (0x100, 6)]:
    fail("node-loss decisions: %s" % [x["text"] for x in log])
check_sink_log()
iops()
if entity3.get("iop_state_reports", 0) < 4:
    fail("entity 3 took %s IOP_STATE reports (2 boots, 2 insertions)" % entity3)
res = [int(l.split()[1]) for l in source_log() if l.startswith("resume")]
lost = [int(l.split()[1]) for l in source_log() if l.startswith("lost")]
if len(res) < 3 or len(lost) < 2:
    fail("the source did not resume after each switch-over: %s" % source_log()[-10:])
print("source: resumed at %s after losing its path at %s (messages re-sent: %s)" %
      (res, lost, [l - r for l, r in zip(lost, res[1:])]))
print("%d instances, %d messages consumed, none lost or consumed twice" % (len(ins), acked_total()))
stop()
run.remove(keep=bool(os.environ.get("KEEP")))  # KEEP=1: keep the logs of a passing run too
print("PASS")
