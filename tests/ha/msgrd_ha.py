#!/usr/bin/env python3
"""msgrd's execution supervisor with real processes (no root needed).

    msgrd (node 7: FTM, supervisor + heartbeat watcher, checkpoint store)
      |-- fd 3: MGMT over SOCK_SEQPACKET --> msgr-ha-app (counts, checkpoints every step)

Three faults, one after the other, each against the running instance:
  1. SIGKILL                    -> crash, reaped through its pidfd
  2. SIGSTOP                    -> hang: no HEARTBEAT_ACK for period x threshold
  3. SIGUSR1 (app exits with 3) -> crash (non-zero exit)
Each must be detected with the right class and evidence, the FTM must restart the
process from its checkpoint (a new pid), and the new instance must resume from the last
acknowledged counter (or the one after it, when a save was acknowledged by the store but
the process died before it logged the ACK).  Detection and recovery times are printed,
not asserted.  No sleep is used as synchronisation: every wait polls a condition
(log file, msgrctl -j) with a bounded deadline.

usage: msgrd_ha.py BIN_DIR
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ha_lib  # noqa: E402  (this folder, from any working directory)

run = ha_lib.Run(sys.argv[1], "msgr-ha.", logs=("msgrd.err", "app.log"), tail=30)
SOCK = run.path("s.sock")
LOG = run.path("app.log")
fail = run.fail
stop = run.stop


def ctl(*args, json_out=True):
    return run.ctl(SOCK, *args, json_out=json_out)


def diagnose():
    print("--- msgrctl proc:", ctl("proc", json_out=False))
    print("--- msgrctl ha:", ctl("ha", json_out=False))


run.diagnose = diagnose


def until(secs, what, fn):
    """run.until, failing as soon as msgrd has exited."""
    def poll():
        v = fn()
        d = run.procs.get("msgrd")
        if not v and d and d.poll() is not None:
            fail("msgrd exited (status %s) while waiting for: %s" % (d.returncode, what))
        return v
    return run.until(secs, what, poll)


def log_lines():
    return ha_lib.lines(LOG)


def starts():
    return ha_lib.starts(LOG)


def last_acked():
    return ha_lib.last_acked(LOG)


def proc_app():
    return run.proc(SOCK)


# A bad [exec] is refused with its line, before anything starts.
bad = run.path("bad.conf")
for text, line in (("[exec]\nname = a\n[node]\n", "3:"),                 # no command
                   ("[exec]\nname = a\ncommand = x\non_crash = maybe\n", "4:"),
                   ("[ha]\nhb_period_ms = 5\n", "2:"),
                   ("[exec]\nname = a\ncommand = x\n[exec]\nname = a\ncommand = y\n", "6:")):
    open(bad, "w").write(text)
    r = subprocess.run([run.exe("msgrd"), "--node-id", "7", "--foreground", "--socket",
                        SOCK, "-c", bad], capture_output=True, text=True, timeout=10)
    if r.returncode != 2 or (":" + line) not in r.stderr:
        fail("bad config %r: status %d, %r" % (text, r.returncode, r.stderr))

conf = run.write("msgrd.conf", """# msgrd_ha.py
[ha]
ftm = active
hb_period_ms = 100
hb_threshold = 3
backoff_base_ms = 100
[exec]
name = app
command = %s %s
devices = app/counter
on_exit = restart
on_crash = restart
on_hang = restart
# a process that knows nothing of msgr_ha.h: crash and exit only, no heartbeat
[exec]
name = plain
command = /bin/sleep 1000
heartbeat = off
on_crash = restart
""" % (run.exe("msgr-ha-app"), LOG))

out = run.msgrd("msgrd", 7, SOCK, conf, "msgrd")
d = run.procs["msgrd"]
until(20, "msgrd ready", lambda: run.ready(out))

# The first instance: started by msgrd, nothing to restore, registered, saving.
until(20, "first instance running", lambda: len(starts()) == 1 and (last_acked() or 0) >= 5)
if "restored=none" not in starts()[0]:
    fail("first instance restored something: " + starts()[0])
p = until(10, "first registration seen", lambda: (lambda a: a if a and a["registered_ns"] else None)(proc_app()))
if p["state"] != "running" or p["heartbeat"]["watched"] is not True:
    fail("app not running/watched: %s" % p)
ha = ctl("ha")
if not ha or ha["ftm"]["role"] != "active" or ha["detection_bound_ms"] != 300:
    fail("ha: %s" % ha)

results = []


def fault(name, sig, want_class, exact):
    n0 = len(starts())
    before = proc_app()
    pid = before["pid"]
    until(10, "acks before %s" % name, lambda: (last_acked() or 0) > 0)
    k = last_acked()
    t0 = time.monotonic_ns()  # CLOCK_MONOTONIC, as msgrd's timestamps
    os.kill(pid, sig)
    if exact:
        # the app saves once more and exits: its last acked counter is known exactly
        until(10, "app exit line", lambda: any(l.startswith("exit ") for l in log_lines()[-5:]))
        k = int([l for l in log_lines() if l.startswith("exit ")][-1].split("after=")[1])
    until(15, "%s: new instance" % name, lambda: len(starts()) > n0)
    p = until(15, "%s: new instance registered" % name,
              lambda: (lambda a: a if a and a["registered_ns"] > t0 and a["pid"] != pid else None)(proc_app()))
    line = starts()[n0]
    restored = line.split("restored=")[1].split()[0]
    if restored == "none":
        fail("%s: restarted without its checkpoint: %s" % (name, line))
    r = int(restored)
    if (exact and r != k) or (not exact and r not in (k, k + 1)):
        fail("%s: restored %d, last acknowledged before the fault %d" % (name, r, k))
    if p["last_class"] != want_class:
        fail("%s: class %s, want %s (%s)" % (name, p["last_class"], want_class, p["evidence"]))
    if "restore_wanted=1" not in line:
        fail("%s: not started from the checkpoint (RECOVER arg 1): %s" % (name, line))
    if os.path.exists("/proc/%d" % pid) and open("/proc/%d/stat" % pid).read().split()[2] != "Z":
        fail("%s: old instance %d still alive" % (name, pid))
    det = (p["detected_ns"] - t0) / 1e6
    rec = (p["registered_ns"] - t0) / 1e6
    results.append((name, want_class, det, rec, p["evidence"], k, r))


fault("SIGKILL", signal.SIGKILL, "crash", False)
fault("SIGSTOP", signal.SIGSTOP, "hang", False)
fault("exit 3", signal.SIGUSR1, "crash", True)

ha = ctl("ha")
ent = [e for e in ha["ftm"]["entities"] if e["id"] == 0x100]
if not ent or ent[0]["failures"] != 3 or ent[0]["restarts"] != 3 or ent[0]["state"] != "UP":
    fail("FTM registry after three faults: %s" % ent)
acts = [x["action"] for x in ha["ftm"]["log"]]
if acts.count("recovered") < 3:
    fail("FTM log: %s" % acts)
# The process without heartbeats lived through all of that (well past the 300 ms bound)
# without being taken for hung; a SIGKILL of it is a crash, restarted.
def plain():
    return [x for x in ctl("proc") if x["name"] == "plain"][0]
q = plain()
if q["starts"] != 1 or q["hangs"] != 0 or q["state"] != "running" or q["heartbeat"]["enabled"]:
    fail("heartbeat = off process: %s" % q)
os.kill(q["pid"], signal.SIGKILL)
q2 = until(10, "plain restarted", lambda: (lambda x: x if x["starts"] == 2 and x["state"] == "running" else None)(plain()))
if q2["last_class"] != "crash" or q2["pid"] == q["pid"]:
    fail("plain after SIGKILL: %s" % q2)
e = until(5, "plain UP again in the FTM", lambda: [x for x in ctl("ha")["ftm"]["entities"]
                                                   if x["id"] == q["entity"] and x["state"] == "UP"
                                                   and x["restarts"] == 1])

for obj in ("ha", "proc", "iop"):
    if ctl(obj, json_out=False) is None or ctl(obj) is None:
        fail("msgrctl %s" % obj)

print("fault       class  detected(ms)  recovered(ms)  acked->restored  evidence")
for name, cls, det, rec, ev, k, r in results:
    print("%-10s  %-5s  %12.1f  %13.1f  %6d->%-6d   %s" % (name, cls, det, rec, k, r, ev))
print("(detected = fault -> msgrd knew; recovered = fault -> new instance registered after "
      "restoring; includes the FTM's back-off of 0, 100, 200 ms; heartbeat 100 ms x 3)")

last = proc_app()["pid"]
last_plain = plain()["pid"]
stop()
if d.returncode != 0:
    fail("msgrd exit status %s" % d.returncode)
for pid in (last, last_plain):
    if os.path.exists("/proc/%d" % pid):
        fail("msgrd left its process %d running" % pid)
run.remove()
print("PASS")
