#!/usr/bin/python3
"""pty_bridge.py LINK1 LINK2 CTLFIFO — a serial "null-modem cable" between two ptys.

Opens two pty pairs, makes LINK1 and LINK2 symlinks to their slave ends (what the two
msgrd serial bearers open), and copies bytes master1 <-> master2.  It keeps its own fd on
each slave open, so a daemon that dies (kill -9) and comes back finds the same line, and
the masters never see EIO in between (socat would exit there).

Control: lines written to CTLFIFO (opened read/write here, so writers never block):
    noise N      write N random bytes into each direction, in chunks of 1..64 bytes
                 interleaved with the real traffic (a noisy line); prints "NOISE DONE N"
                 once every byte is written
    quit         exit
Prints "READY LINK1 LINK2" when both links exist, "STATS a2b=.. b2a=.. noise=.." on quit.
SIGTERM exits too.  Python stdlib only.
"""
import os
import pty
import random
import select
import signal
import sys
import termios
import tty


def main():
    l1, l2, ctl = sys.argv[1:4]
    m1, s1 = pty.openpty()
    m2, s2 = pty.openpty()
    for s in (s1, s2):
        tty.setraw(s)
        a = termios.tcgetattr(s)
        a[3] &= ~termios.ECHO
        termios.tcsetattr(s, termios.TCSANOW, a)
    for link, s in ((l1, s1), (l2, s2)):
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass
        os.symlink(os.ttyname(s), link)
    for fd in (m1, m2):
        os.set_blocking(fd, False)
    if not os.path.exists(ctl):
        os.mkfifo(ctl)
    cfd = os.open(ctl, os.O_RDWR | os.O_NONBLOCK)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    print("READY", l1, l2, flush=True)
    out = {m1: bytearray(), m2: bytearray()}   # pending bytes to write to that master
    count = {"a2b": 0, "b2a": 0, "noise": 0}
    noise_left = 0
    noise_req = 0
    rng = random.Random(os.getpid())
    cbuf = b""
    while not stop:
        wl = [fd for fd, q in out.items() if q]
        timeout = 0 if noise_left else 1.0
        try:
            r, w, _ = select.select([m1, m2, cfd], wl, [], timeout)
        except InterruptedError:
            continue
        for fd in r:
            if fd == cfd:
                cbuf += os.read(cfd, 4096)
                while b"\n" in cbuf:
                    line, cbuf = cbuf.split(b"\n", 1)
                    p = line.decode().split()
                    if p and p[0] == "noise":
                        noise_left += int(p[1])
                        noise_req += int(p[1])
                    elif p and p[0] == "quit":
                        stop.append(1)
                continue
            try:
                data = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""  # EIO: cannot happen while we hold the slave, but be safe
            if not data:
                continue
            other = m2 if fd == m1 else m1
            if len(out[other]) < (1 << 22):
                out[other] += data
            count["a2b" if fd == m1 else "b2a"] += len(data)
        # Noise goes in between chunks of real data, in both directions.
        if noise_left:
            n = min(noise_left, rng.randint(1, 64))
            for fd in (m1, m2):
                out[fd] += bytes(rng.getrandbits(8) for _ in range(n))
            noise_left -= n
            count["noise"] += n
            if not noise_left:
                pending_done = noise_req
                noise_req = 0
                # flushed below, reported when written out
                out_done_marker.append(pending_done)
        for fd in w:
            try:
                k = os.write(fd, out[fd])
                del out[fd][:k]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                out[fd].clear()
        if out_done_marker and not out[m1] and not out[m2]:
            print("NOISE DONE", out_done_marker.pop(0), flush=True)
    print("STATS a2b=%d b2a=%d noise=%d" % (count["a2b"], count["b2a"], count["noise"]),
          flush=True)
    for link in (l1, l2):
        try:
            os.unlink(link)
        except OSError:
            pass


out_done_marker = []

if __name__ == "__main__":
    main()
