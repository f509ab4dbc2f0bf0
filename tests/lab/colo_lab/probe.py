"""Does this host's copy of the guest answer? An ICMP echo request sent
straight into one QEMU's tap, from inside its host namespace, and the
reply looked for on that same tap.

Both copies of the guest have the same MAC and IP address, so a client
on the LAN cannot tell which one answered. A frame written to the host
side of tap0 reaches only the QEMU that owns it, and its guest's reply
leaves through that QEMU's tap0 (on the primary through colo-compare,
which releases it only once the secondary's copy agreed, or once COLO
ended). A guest that is paused, or whose output goes nowhere (a
secondary's output redirected to a primary that is gone), does not
answer: it serves nobody.

The request carries the client's addresses, so the guest answers from
its ARP cache without asking; the reply then also reaches the client,
whose kernel drops an echo reply it did not ask for.

  python3 -m colo_lab.probe IFACE --guest-mac M --guest-ip A
                            --src-mac M --src-ip A [--timeout S]

prints one JSON line: {"answered": bool, "rtt_ms": float or null}.
"""

import argparse
import json
import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8
PACKET_OUTGOING = 4


def mac_bytes(mac):
    return bytes(int(b, 16) for b in mac.split(":"))


def ip_bytes(ip):
    return socket.inet_aton(ip)


def checksum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request_frame(dst_mac, src_mac, dst_ip, src_ip, ident, seq, payload=b"colo-lab"):
    """An Ethernet frame carrying an ICMP echo request."""
    icmp = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), ident, 0x4000, 64, 1, 0,
                     ip_bytes(src_ip), ip_bytes(dst_ip))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", ETH_P_IP) + ip + icmp


def is_echo_reply(frame, from_ip, ident):
    """True when frame is an ICMP echo reply from from_ip with this ident."""
    if len(frame) < 14 + 20 + 8 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return False
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ip[9] != 1 or ip[12:16] != ip_bytes(from_ip) or len(ip) < ihl + 8:
        return False
    icmp_type, _, _, got_ident = struct.unpack("!BBHH", ip[ihl:ihl + 6])
    return icmp_type == ICMP_ECHO_REPLY and got_ident == ident


def probe(iface, guest_mac, guest_ip, src_mac, src_ip, timeout=2.0, interval=0.4):
    """Send echo requests into iface every interval seconds until one is
    answered or timeout passed; the answer's round trip in ms, or None."""
    ident = (os.getpid() ^ 0xC010) & 0xFFFF
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sock.bind((iface, 0))
        start = time.monotonic()
        deadline = start + timeout
        next_send, seq, sent_at = start, 0, {}
        while True:
            now = time.monotonic()
            if now >= deadline:
                return None
            if now >= next_send:
                seq += 1
                sock.send(echo_request_frame(guest_mac, src_mac, guest_ip, src_ip, ident, seq))
                sent_at[seq] = now
                next_send = now + interval
            ready, _, _ = select.select([sock], [], [], max(0.0, min(next_send, deadline) - now))
            if not ready:
                continue
            frame, addr = sock.recvfrom(65535)
            if addr[2] != PACKET_OUTGOING and is_echo_reply(frame, guest_ip, ident):
                return (time.monotonic() - sent_at[1]) * 1000
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("iface")
    ap.add_argument("--guest-mac", required=True)
    ap.add_argument("--guest-ip", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--src-ip", required=True)
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    try:
        rtt = probe(args.iface, args.guest_mac, args.guest_ip, args.src_mac, args.src_ip,
                    args.timeout)
    except OSError as exc:
        print(f"error: {args.iface}: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"answered": rtt is not None,
                      "rtt_ms": round(rtt, 1) if rtt is not None else None}))


if __name__ == "__main__":
    main()
