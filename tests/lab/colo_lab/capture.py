"""Packet captures in a lab namespace (tcpdump -w) and a small reader of
the pcap files it writes: the TCP payloads a host received, with the
kernel's receive times (host wall clock, like QEMU's trace timestamps)."""

import ipaddress
import re
import signal
import struct
import subprocess
import time

from .topology import LabError


# tcpdump's kernel buffer: room for bursts of GSO-sized frames (a tap
# carries up to 64 KiB a frame) while tcpdump writes
BUFFER_KIB = 64 * 1024


class Capture:
    """tcpdump on iface in netns, writing path; start() returns once
    tcpdump captures, stop() once it has written every packet it got
    (immediate mode: no packet waits in the kernel's ring when it stops)."""

    def __init__(self, netns, path, iface="eth0", expr="tcp"):
        self.path = path
        self._log_path = path + ".log"
        self._log = open(self._log_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "tcpdump", "-i", iface, "-n", "-U", "-s", "0",
             "-B", str(BUFFER_KIB), "--immediate-mode", "-w", path, expr],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)

    def _log_text(self):
        with open(self._log_path, errors="replace") as f:
            return f.read()

    def start(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while "listening on" not in self._log_text():
            if self.proc.poll() is not None:
                raise LabError(f"tcpdump exited: {self._log_text().strip()[-200:]}")
            if time.monotonic() > deadline:
                raise LabError(f"tcpdump not capturing after {timeout:.0f} s")
            time.sleep(0.05)
        return self

    def stop(self):
        """Stop; fail when tcpdump did not write every packet it saw."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        log = self._log_text()
        counts = {k: int(n) for n, k in re.findall(
            r"(\d+) packets? (captured|received by filter|dropped by kernel)", log)}
        if len(counts) != 3 or counts["dropped by kernel"] or \
                counts["captured"] != counts["received by filter"]:
            raise LabError(f"capture {self.path} incomplete: {' / '.join(log.splitlines()[-3:])}")
        return counts["captured"]


def read_pcap(path):
    """(time, frame bytes) of each packet of an Ethernet pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise LabError(f"{path}: not a pcap file")
    magic = data[:4]
    for endian in ("<", ">"):
        (m,) = struct.unpack(endian + "I", magic)
        if m in (0xA1B2C3D4, 0xA1B23C4D):
            frac = 1e-6 if m == 0xA1B2C3D4 else 1e-9
            break
    else:
        raise LabError(f"{path}: not a pcap file")
    (linktype,) = struct.unpack(endian + "I", data[20:24])
    if linktype != 1:
        raise LabError(f"{path}: link type {linktype}, not Ethernet")
    off, packets = 24, []
    while off + 16 <= len(data):
        sec, sub, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        packets.append((sec + sub * frac, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return packets


def _ipv4_tcp(ip):
    """(src, dst, TCP segment) of an IPv4 packet, or None."""
    if len(ip) < 20 or ip[9] != 6:
        return None
    ihl, total = (ip[0] & 0x0F) * 4, struct.unpack("!H", ip[2:4])[0]
    return (str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20])),
            ip[ihl:total])


def _ipv6_tcp(ip):
    """(src, dst, TCP segment) of an IPv6 packet whose next header is TCP
    (what the guest and the client send: no extension headers), or None."""
    if len(ip) < 40 or ip[6] != 6:
        return None
    length = struct.unpack("!H", ip[4:6])[0]
    return (str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40])),
            ip[40:40 + length])


IP_TCP = {b"\x08\x00": _ipv4_tcp, b"\x86\xdd": _ipv6_tcp}


def tcp_segments(packets, src_ip=None):
    """(time, src, dst, sport, dport, seq, flags, payload) of the IPv4 and
    IPv6 TCP segments among packets, only those from src_ip when given.
    Addresses are in their canonical text form (IPv6 compressed)."""
    out = []
    for t, frame in packets:
        parse = IP_TCP.get(bytes(frame[12:14]))
        found = parse(frame[14:]) if parse else None
        if not found or (src_ip and found[0] != src_ip):
            continue
        src, dst, tcp = found
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        doff = (tcp[12] >> 4) * 4
        out.append((t, src, dst, sport, dport, seq, tcp[13], bytes(tcp[doff:])))
    return out
