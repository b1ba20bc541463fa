"""Real ICMP echo for ping(8) in a VNET jail or across the simulated host's bridges (no package imports).

Run as ``python icmp.py FAMILY TARGET COUNT DATALEN WAIT_MS`` by :mod:`salt_jail.rehearsal.tools.ping`, with
its network namespace already switched to the jail's or the simulated host's (:func:`salt_jail.rehearsal.
netns.run_in`): it can only reach what that namespace reaches — bridges, veth pairs and namespaces the
rehearsal created.  Prints one JSON list: ``[{"seq": n, "rtt": ms or null, "ttl": n, "error": errno}]``.
"""

import json
import os
import select
import socket
import struct
import sys
import time


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def probe(family, target, count, datalen, wait):
    v6 = family == 6
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                         socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    request, reply = (128, 129) if v6 else (8, 0)
    results = []
    for seq in range(count):
        payload = bytes((i & 0xFF) for i in range(datalen))
        header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
        packet = header + payload
        if not v6:  # the kernel computes ICMPv6 checksums itself
            packet = header[:2] + struct.pack("!H", _checksum(packet)) + header[4:] + payload
        start = time.monotonic()
        try:
            sock.sendto(packet, (target, 0))
        except OSError as error:
            results.append({"seq": seq, "rtt": None, "error": error.errno})
            continue
        entry = {"seq": seq, "rtt": None}
        while True:
            left = start + wait - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                break
            data, _addr = sock.recvfrom(65535)
            ttl = 64
            if not v6:
                ttl = data[8]
                data = data[(data[0] & 0x0F) * 4:]
            if len(data) < 8:
                continue
            kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
            if kind == reply and rid == ident and rseq == seq:
                entry.update(rtt=(time.monotonic() - start) * 1000.0, ttl=ttl)
                break
        results.append(entry)
    return results


if __name__ == "__main__":
    fam, tgt, cnt, size, wait_ms = sys.argv[1:6]
    print(json.dumps(probe(int(fam), tgt, int(cnt), int(size), int(wait_ms) / 1000.0)))
