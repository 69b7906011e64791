#!/usr/bin/env python3
"""sec_proxy.py — a UDP man in the middle between two msgrd (tests/daemon/sec_udp.sh).

    sec_proxy.py TARGET_PORT AFTER [AFTER...]

Listens on 127.0.0.1 (a port the kernel picks; printed as "READY port=P") for node 1,
and forwards node 1's datagrams to 127.0.0.1:TARGET_PORT (node 2) from a second socket,
so node 2 learns the proxy as node 1's address; node 2's answers go back to node 1.

It plays the attacker on the path node 1 -> node 2.  When the count of SECURED frames
(type 0x40, RFC 5.18) with a body large enough to carry data reaches each AFTER, it
injects, just after forwarding the genuine frame:
  - 2 replays: byte-exact copies of that frame (the receiver has seen its counter);
  - 2 forgeries: copies with the counter moved 2^20 ahead and one ciphertext octet
    flipped (a counter never seen, so only the AEAD tag can reject them).
Each injection prints "INJECT replay" / "INJECT forged"; on SIGTERM it prints
"DONE replays=R forged=F forwarded=N" and exits.
"""
import selectors
import signal
import socket
import sys

target = ("127.0.0.1", int(sys.argv[1]))
afters = sorted(int(a) for a in sys.argv[2:])

left = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # node 1 talks to this one
left.bind(("127.0.0.1", 0))
right = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # node 2 sees this address
right.bind(("127.0.0.1", 0))
node1 = None
stats = {"replays": 0, "forged": 0, "forwarded": 0}
data_frames = 0
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)


def is_secured_data(d):
    # common header: version nibble 1, type 0x40, big-endian length = the datagram
    return (len(d) >= 200 and d[0] >> 4 == 1 and d[1] == 0x40
            and int.from_bytes(d[2:4], "big") == len(d))


def forge(d):
    b = bytearray(d)
    ctr = int.from_bytes(b[8:16], "big") + (1 << 20)
    b[8:16] = ctr.to_bytes(8, "big")
    b[20] ^= 0x5A  # inside the ciphertext
    return bytes(b)


sel = selectors.DefaultSelector()
sel.register(left, selectors.EVENT_READ)
sel.register(right, selectors.EVENT_READ)
print("READY port=%d" % left.getsockname()[1], flush=True)
while not stop:
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        try:
            d, addr = s.recvfrom(65536)
        except (BlockingIOError, InterruptedError):
            continue
        if s is left:
            node1 = addr
            right.sendto(d, target)
            stats["forwarded"] += 1
            if is_secured_data(d):
                data_frames += 1
                if afters and data_frames >= afters[0]:
                    afters.pop(0)
                    for _ in range(2):
                        right.sendto(d, target)
                        stats["replays"] += 1
                        print("INJECT replay", flush=True)
                    for _ in range(2):
                        right.sendto(forge(d), target)
                        stats["forged"] += 1
                        print("INJECT forged", flush=True)
        elif node1 is not None:
            left.sendto(d, node1)
print("DONE replays=%(replays)d forged=%(forged)d forwarded=%(forwarded)d" % stats, flush=True)
