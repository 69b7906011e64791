#!/usr/bin/python3
"""eth_inject.py IFNAME DSTMAC COUNT [SEED] — garbage Messenger frames on an interface.

Run inside a network namespace (ip netns exec).  Sends COUNT frames with EtherType
0x88B5 through an AF_PACKET raw socket on IFNAME, to DSTMAC (the bearer under attack;
every 8th frame goes to ff:ff:ff:ff:ff:ff instead):
  - 1/3 truncated: 0..11 bytes of payload (shorter than any Messenger header), some of
    them the first bytes of a plausible header (version nibble 1);
  - 1/3 random bytes of 12..1486 bytes;
  - 1/3 a plausible first byte followed by random bytes (so the decoder gets past the
    version check and must reject the rest: lengths, types, CRC-less garbage).
Source MACs are random locally-administered unicast addresses (never a daemon's).
Prints "INJECTED N truncated=.. random=.. header=..".  Python stdlib only.
"""
import os
import random
import socket
import struct
import sys


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def main():
    ifname, dst, count = sys.argv[1], mac(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else os.getpid())
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    bcast = b"\xff" * 6
    kinds = {"truncated": 0, "random": 0, "header": 0}
    for i in range(count):
        src = bytes([0x02 | (rng.getrandbits(8) & 0xFC)]) + rng.randbytes(5)
        d = bcast if i % 8 == 7 else dst
        k = i % 3
        if k == 0:
            n = rng.randint(0, 11)
            body = rng.randbytes(n)
            if n and rng.random() < 0.5:
                body = bytes([0x10 | (body[0] & 0x0F)]) + body[1:]
            kinds["truncated"] += 1
        elif k == 1:
            body = rng.randbytes(rng.randint(12, 1486))
            kinds["random"] += 1
        else:
            body = bytes([0x10 | rng.getrandbits(4)]) + rng.randbytes(rng.randint(11, 600))
            kinds["header"] += 1
        frame = d + src + struct.pack("!H", 0x88B5) + body
        while True:
            try:
                s.send(frame)
                break
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno == 105:  # ENOBUFS: the qdisc is full, try again
                    continue
                raise
    print("INJECTED %d truncated=%d random=%d header=%d" %
          (count, kinds["truncated"], kinds["random"], kinds["header"]), flush=True)


if __name__ == "__main__":
    main()
