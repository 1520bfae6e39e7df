#!/usr/bin/env python3
"""Traffic and verdicts for router.bats: pcap files (DPDK's net_pcap), tap interfaces.

  flows.py make DIR N      writes DIR/in_p{0,1}_q{0,1}.pcap (N frames each) and
                           DIR/routes: 10.0.0.0/16 -> port 1, 10.1.0.0/16 -> port 0
  flows.py check DIR       checks DIR/out_p{0,1}.pcap against what was sent
  flows.py telemetry SOCK CMD   one query to a DPDK telemetry socket, JSON out
  flows.py tap IN OUT N PPS     sends N frames for 10.0.0.0/16 (port 1) into
                           interface IN at PPS, counts those that come out of
                           OUT routed right (net_tap ports: the kernel's side)

Frames: IPv4/UDP, many flows (source address and ports vary per frame), the
destination alternating between the two prefixes, every 10th frame with TTL 1.
"""
import json
import socket
import struct
import sys

NEXTHOP = {0: bytes.fromhex("020000000001"), 1: bytes.fromhex("020000000101")}
PREFIX_PORT = {10 << 24 | 0 << 16: 1, 10 << 24 | 1 << 16: 0}


def csum(b):
    s = 0
    for i in range(0, len(b), 2):
        s += b[i] << 8 | b[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, ttl):
    payload = struct.pack("!HHHH", sport, dport, 8 + 18, 0) + bytes(18)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl, 17, 0,
                     src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return bytes.fromhex("02000000aa01") + bytes.fromhex("02000000bb01") + b"\x08\x00" + ip + payload


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1, i, len(fr), len(fr)) + fr)


def read_pcap(path):
    out = []
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit(f"{path}: not a pcap file")
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


def flows(n):
    """Every input file's frames: (file, frames, expected[(port, key)], expired)."""
    files, expected, expired, k = {}, [], 0, 0
    for p in (0, 1):
        for q in (0, 1):
            frs = []
            for i in range(n):
                k += 1
                src = (172 << 24 | 16 << 16) + (k * 7919) % 65521
                sport, dport = 1024 + (k * 31) % 60000, 2000 + k % 97
                net = (10 << 24 | (k % 2) << 16)
                dst = net | (k % 250 + 1)
                ttl = 1 if k % 10 == 0 else 64
                frs.append(frame(src, dst, sport, dport, ttl))
                if ttl == 1:
                    expired += 1
                else:
                    expected.append((PREFIX_PORT[net], (src, dst, sport, dport)))
            files[f"in_p{p}_q{q}.pcap"] = frs
    return files, expected, expired


def cmd_make(d, n):
    files, expected, expired = flows(n)
    for name, frs in files.items():
        write_pcap(f"{d}/{name}", frs)
    with open(f"{d}/routes", "w") as f:
        f.write("10.0.0.0/16 port 1 nexthop-mac 02:00:00:00:01:01\n")
        f.write("10.1.0.0/16 port 0 nexthop-mac 02:00:00:00:00:01\n")
    with open(f"{d}/expect", "w") as f:
        f.write(f"{len(expected)} {expired}\n")
    print(f"{4 * n} frames, {len(expected)} to forward, {expired} with TTL 1, "
          f"{len(set(k for _, k in expected))} flows")


def cmd_check(d):
    # the same frames as make: N is the first input file's length
    n_in = len(read_pcap(f"{d}/in_p0_q0.pcap"))
    files, expected, expired = flows(n_in)
    want = {0: sorted(k for p, k in expected if p == 0), 1: sorted(k for p, k in expected if p == 1)}
    bad = 0
    for port in (0, 1):
        got = []
        for fr in read_pcap(f"{d}/out_p{port}.pcap"):
            ip = fr[14:34]
            if fr[:6] != NEXTHOP[port]:
                print(f"port {port}: dst MAC {fr[:6].hex()} is not the next hop's")
                bad += 1
            if ip[8] != 63:
                print(f"port {port}: TTL {ip[8]}, want 63")
                bad += 1
            if csum(ip) != 0:
                print(f"port {port}: IPv4 checksum does not verify")
                bad += 1
            src, dst = struct.unpack("!II", ip[12:20])
            sport, dport = struct.unpack("!HH", fr[34:38])
            got.append((src, dst, sport, dport))
        got.sort()
        if got != want[port]:
            print(f"port {port}: {len(got)} frames, want {len(want[port])} "
                  f"({len(set(got) - set(want[port]))} unexpected, "
                  f"{len(set(want[port]) - set(got))} missing)")
            bad += 1
        else:
            print(f"port {port}: {len(got)} of {len(want[port])} frames, each routed right, "
                  f"TTL 63, checksum good")
    sys.exit(1 if bad else 0)


def cmd_telemetry(path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    json.loads(s.recv(65536).decode())  # the greeting
    s.send(cmd.encode())
    print(json.dumps(json.loads(s.recv(65536).decode())))


def cmd_tap(iface_in, iface_out, n, pps):
    import threading
    import time
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((iface_in, 0))
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    rx.bind((iface_out, 0x0800))
    rx.settimeout(0.2)
    got, bad, done = [0], [0], threading.Event()

    def count():
        while not done.is_set():
            try:
                fr = rx.recv(2048)
            except socket.timeout:
                continue
            if len(fr) < 38 or fr[:6] != NEXTHOP[1]:
                continue
            if fr[22] == 63 and csum(fr[14:34]) == 0:
                got[0] += 1
            else:
                bad[0] += 1

    t = threading.Thread(target=count)
    t.start()
    t0 = time.monotonic()
    for k in range(n):
        src = (172 << 24 | 16 << 16) + (k * 7919) % 65521
        tx.send(frame(src, 10 << 24 | (k % 250 + 1), 1024 + k % 60000, 2000 + k % 97, 64))
        delay = t0 + (k + 1) / pps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    time.sleep(1)
    done.set()
    t.join()
    print(f"sent {n} into {iface_in}, {got[0]} routed right out of {iface_out}, {bad[0]} bad")
    sys.exit(0 if got[0] == n and not bad[0] else 1)


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "make":
        cmd_make(a[1], int(a[2]))
    elif len(a) == 2 and a[0] == "check":
        cmd_check(a[1])
    elif len(a) == 3 and a[0] == "telemetry":
        cmd_telemetry(a[1], a[2])
    elif len(a) == 5 and a[0] == "tap":
        cmd_tap(a[1], a[2], int(a[3]), float(a[4]))
    else:
        sys.exit(__doc__)
