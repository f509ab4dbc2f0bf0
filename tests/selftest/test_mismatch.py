"""Unit tests for the colo-nic evidence (colo_lab.capture, colo_lab.mismatch):
a synthetic client capture and checkpoint trace."""

import ipaddress
import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

from colo_lab.capture import read_pcap, tcp_segments  # noqa: E402
from colo_lab.mismatch import (check_release, checkpoint_windows,  # noqa: E402
                               compute_windows, random_values)

CLIENT, GUEST = "10.77.0.1", "10.77.0.10"
CLIENT6, GUEST6 = "fd77::1", "fd77::10"
SYN, ACK_PSH = 0x12, 0x18
ISN = 0xFFFFFF00   # the guest's: its stream wraps around 2^32


def frame(src, dst, payload, sport=40000, dport=80, seq=1, flags=ACK_PSH):
    """An Ethernet frame of a TCP segment, IPv4 or IPv6 as src is."""
    ip_src, ip_dst = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, 5 << 4, flags,
                      1000, 0, 0) + payload
    if len(ip_src) == 16:
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, ip_src, ip_dst) + tcp
        return b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + ip
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0,
                     ip_src, ip_dst) + tcp
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in packets:
            f.write(struct.pack("<IIII", int(t), round((t % 1) * 1e6), len(data), len(data)))
            f.write(data)


def port(tag):
    return 40000 + int(tag[1:])


def request(t, tag, client=CLIENT, guest=GUEST):
    return t, frame(client, guest, f"GET /cgi-bin/random?tag={tag}&pad=9 HTTP/1.1\r\n".encode(),
                    sport=port(tag))


def answer_bytes(tag, value):
    line = f"tag={tag} value={value}\n"
    return f"HTTP/1.0 200 OK\r\n\r\n{line}{'x' * 9}{line}".encode()


def segments(t, tag, value, cuts=(), client=CLIENT, guest=GUEST):
    """The guest's SYN-ACK, then its answer cut at offsets cuts, all at t."""
    data = answer_bytes(tag, value)
    out = [(t, frame(guest, client, b"", 80, port(tag), ISN, SYN))]
    edges = [0, *cuts, len(data)]
    for lo, hi in zip(edges, edges[1:]):
        out.append((t, frame(guest, client, data[lo:hi], 80, port(tag), ISN + 1 + lo)))
    return out


class MismatchEvidenceTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.client = os.path.join(self.dir.name, "c.pcap")
        self.tap = os.path.join(self.dir.name, "t.pcap")
        self.pvm = {"r0": "aaaa", "r1": "bbbb"}
        self.svm = {"r0": "cccc", "r1": "dddd"}
        # when the PVM computed each value
        self.computed = {"r0": (1001.02, 1001.05), "r1": (1002.02, 1002.05)}

    def tearDown(self):
        self.dir.cleanup()

    def check(self, client, tap, windows, capture_window=(1000.0, 1100.0),
              run_window=(990.0, 1110.0)):
        write_pcap(self.client, client)
        write_pcap(self.tap, tap)
        return check_release(self.client, self.tap, {CLIENT, CLIENT6}, {GUEST, GUEST6}, self.pvm, self.svm,
                             windows, self.computed, capture_window, run_window)

    def two_answers(self, emit, recv, windows, **kw):
        """r0 and r1 asked at 1001 and 1002 (on the PVM's tap 10 ms
        later), emitted at emit[i] and received at recv[i]."""
        client = [request(1001, "r0"), *segments(recv[0], "r0", "aaaa"),
                  request(1002, "r1"), *segments(recv[1], "r1", "bbbb")]
        tap = [request(1001.01, "r0"), *segments(emit[0], "r0", "aaaa"),
               request(1002.01, "r1"), *segments(emit[1], "r1", "bbbb")]
        return self.check(client, tap, windows, **kw)

    def test_reader(self):
        write_pcap(self.client, [request(1000.25, "r0")])
        (seg,) = tcp_segments(read_pcap(self.client))
        self.assertAlmostEqual(seg[0], 1000.25, places=5)
        self.assertEqual(seg[1:3], (CLIENT, GUEST))
        self.assertTrue(seg[7].startswith(b"GET /cgi-bin/random?tag=r0"))

    def test_reader_ipv6(self):
        write_pcap(self.client, [request(1000.25, "r0", CLIENT6, GUEST6)])
        (seg,) = tcp_segments(read_pcap(self.client))
        self.assertEqual(seg[1:5], (CLIENT6, GUEST6, port("r0"), 80))
        self.assertTrue(seg[7].startswith(b"GET /cgi-bin/random?tag=r0"))

    def test_ipv6_answer_released_early(self):
        # r0 over IPv4 is covered; r1 over IPv6 reached the client before
        # the checkpoint after its emission was committed
        v6 = {"client": CLIENT6, "guest": GUEST6}
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa"),
                  request(1002, "r1", **v6), *segments(1002.12, "r1", "bbbb", **v6)]
        tap = [request(1001.01, "r0"), *segments(1001.1, "r0", "aaaa"),
               request(1002.01, "r1", **v6), *segments(1002.1, "r1", "bbbb", **v6)]
        failures, fig = self.check(client, tap, [(1001.2, 1001.4), (1002.15, 1002.2)])
        self.assertEqual((fig["checked_answers"], fig["released_uncovered"]), (2, 1))
        self.assertIn("e.g. r1: bytes", failures[0])

    def test_released_after_commit(self):
        failures, fig = self.two_answers((1001.1, 1002.1), (1001.5, 1002.3),
                                         [(1001.2, 1001.4), (1002.15, 1002.2)])
        self.assertEqual(failures, [])
        self.assertEqual((fig["svm_differing"], fig["released_uncovered"]), (2, 0))
        self.assertEqual(fig["checked_segments"], 2)

    def test_checkpoint_before_emission(self):
        # The only checkpoint after r0's emission committed after its
        # receipt; the one before it covers r1 only
        failures, fig = self.two_answers((1001.3, 1002.1), (1001.5, 1002.3),
                                         [(1001.6, 1001.7), (1002.15, 1002.2)])
        self.assertEqual(fig["released_uncovered"], 1)
        self.assertIn("uncovered by a checkpoint, e.g. r0: bytes", failures[0])

    def test_checkpoint_while_computing(self):
        # A checkpoint while the PVM computed r0's value may have given
        # the SVM the PVM's value: r0 is not checked
        self.computed["r0"] = (1001.15, 1001.22)
        failures, fig = self.two_answers((1001.3, 1002.1), (1001.35, 1002.3),
                                         [(1001.2, 1001.25), (1002.15, 1002.2)])
        self.assertEqual(failures, [])
        self.assertEqual(fig["checked"], ["r1"])
        self.assertEqual(fig["skipped_checkpoint_while_computing"], 1)

    def test_checkpoint_between_request_and_value(self):
        # A checkpoint after the request, before the PVM computed the
        # value: the SVM computes its own, r0 is checked
        self.computed["r0"] = (1001.25, 1001.28)
        failures, fig = self.two_answers((1001.3, 1002.1), (1001.35, 1002.3),
                                         [(1001.2, 1001.25), (1002.15, 1002.2)])
        self.assertEqual(fig["released_uncovered"], 1)
        self.assertIn("e.g. r0: bytes", failures[0])

    def test_no_console_times(self):
        del self.computed["r1"]
        failures, _ = self.two_answers((1001.1, 1002.1), (1001.5, 1002.3),
                                       [(1001.2, 1001.4), (1002.15, 1002.2)])
        self.assertIn("request r1: no console lines", failures[0])

    def test_value_prefix_shared(self):
        # r0's value shares "aa" with the SVM's: a segment that ends in
        # them leaves on comparison, it is not checked
        self.pvm, self.svm = {"r0": "aaaa"}, {"r0": "aacc"}
        data = answer_bytes("r0", "aaaa")
        cut = data.index(b"value=aaaa") + len("value=aa")
        emit = [request(1001.01, "r0"), *segments(1001.1, "r0", "aaaa", (cut,))]
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa", (cut,))]
        client[2] = (1001.12, client[2][1])
        failures, fig = self.check(client, emit, [(1001.2, 1001.4)])
        self.assertEqual(failures, [])
        self.assertEqual(fig["checked_segments"], 1)

    def test_capture_hole(self):
        self.pvm = {"r0": "aaaa"}
        data = answer_bytes("r0", "aaaa")
        cuts = (10, data.index(b"xxx"))
        emit = [request(1001.01, "r0"), *segments(1001.1, "r0", "aaaa", cuts)]
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa", cuts)]
        del client[3]
        failures, _ = self.check(client, emit, [(1001.2, 1001.4)])
        self.assertIn("the client's capture of it has a hole", failures[0])

    def test_port_reused(self):
        self.pvm = {"r0": "aaaa"}
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa")]
        client.append((1001.6, frame(GUEST, CLIENT, b"", 80, port("r0"), ISN + 7, SYN)))
        emit = [request(1001.01, "r0"), *segments(1001.1, "r0", "aaaa")]
        failures, _ = self.check(client, emit, [(1001.2, 1001.4)])
        self.assertIn("served several connections", failures[0])

    def test_retransmission_received_twice(self):
        self.pvm = {"r0": "aaaa"}
        emit = [request(1001.01, "r0"), *segments(1001.1, "r0", "aaaa"),
                *segments(1001.3, "r0", "aaaa")[1:]]
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa"),
                  *segments(1001.6, "r0", "aaaa")[1:]]
        failures, fig = self.check(client, emit, [(1001.2, 1001.4)])
        self.assertEqual(failures, [])
        self.assertEqual(fig["checked_segments"], 2)

    def long_answer(self, emitted_last, received_last):
        """r0 alone, in three segments (first value, padding, second
        value), emitted at 1001.1 and received at 1001.5, but for the last
        segment; (client capture, tap capture, answer bytes, cuts)."""
        data = answer_bytes("r0", "aaaa")
        cuts = (data.index(b"xxx"), data.rindex(b"tag="))
        self.pvm = {"r0": "aaaa"}
        emit = [request(1001.01, "r0"), *segments(1001.1, "r0", "aaaa", cuts)]
        emit[-1] = (emitted_last, emit[-1][1])
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa", cuts)]
        client[-1] = (received_last, client[-1][1])
        return client, emit, data, cuts

    def test_after_the_sync(self):
        # r0's first value left the PVM before the checkpoint and was
        # released by it; its second left after: the SVM had the value
        # then, it is not checked
        client, emit, _, _ = self.long_answer(1001.3, 1001.31)
        failures, fig = self.check(client, emit, [(1001.2, 1001.4)])
        self.assertEqual(failures, [])
        self.assertEqual(fig["checked_segments"], 1)

    def test_commit_after_receipt(self):
        failures, fig = self.two_answers((1001.1, 1002.1), (1001.3, 1002.3),
                                         [(1001.2, 1001.4), (1002.15, 1002.2)])
        self.assertEqual(fig["released_uncovered"], 1)

    def test_svm_missing_answer_is_checked(self):
        del self.svm["r1"]
        failures, fig = self.two_answers((1001.1, 1002.1), (1001.5, 1002.12),
                                         [(1001.2, 1001.4), (1002.15, 1002.2)])
        self.assertEqual((fig["svm_differing"], fig["svm_missing"]), (2, 1))
        self.assertIn("e.g. r1", failures[0])

    def test_identical_answer_not_checked(self):
        self.svm["r1"] = "bbbb"
        failures, fig = self.two_answers((1001.1, 1002.1), (1001.5, 1002.12),
                                         [(1001.2, 1001.4)])
        self.assertEqual(failures, [])
        self.assertEqual(fig["svm_differing"], 1)

    def test_segments_of_a_long_answer(self):
        # r0 in three segments: the one with neither value is not checked;
        # the last one (its second value) was released before the
        # checkpoint that covers it
        client, emit, data, cuts = self.long_answer(1001.15, 1001.18)
        failures, fig = self.check(client, emit, [(1001.2, 1001.4)])
        self.assertEqual(fig["released_uncovered"], 1)
        self.assertIn(f"bytes {cuts[1] + 1}..{len(data) + 1} emitted at 1001.15", failures[0])
        client[-1] = (1001.5, client[-1][1])
        failures, fig = self.check(client, emit, [(1001.2, 1001.4)])
        self.assertEqual(failures, [])
        self.assertEqual(fig["checked_segments"], 2)

    def test_emitted_in_pieces(self):
        # The PVM emitted r0's bytes as two segments, the client got one:
        # its emission is the later of the two
        data = answer_bytes("r0", "aaaa")
        self.pvm = {"r0": "aaaa"}
        emit = [request(1001.01, "r0"), *segments(1001.1, "r0", "aaaa", (10,))]
        emit[-1] = (1001.3, emit[-1][1])
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa")]
        failures, _ = self.check(client, emit, [(1001.6, 1001.7)])
        self.assertIn(f"bytes 1..{len(data) + 1} emitted at 1001.3", failures[0])

    def test_never_emitted(self):
        self.pvm = {"r0": "aaaa"}
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa")]
        failures, _ = self.check(client, [request(1001.01, "r0"),
                                          *segments(1001.1, "r0", "aaaa", (5,))[:2]],
                                 [(1001.2, 1001.4)])
        self.assertIn("the PVM's tap never carried them", failures[0])

    def test_svm_value_leaked(self):
        client = [request(1001, "r0"), *segments(1001.5, "r0", "cccc"),
                  request(1002, "r1"), *segments(1002.3, "r1", "bbbb")]
        tap = [request(1001.01, "r0"), *segments(1001.1, "r0", "cccc"),
               request(1002.01, "r1"), *segments(1002.1, "r1", "bbbb")]
        failures, fig = self.check(client, tap, [(1001.2, 1001.4), (1002.15, 1002.2)])
        self.assertEqual(fig["svm_only_values_received"], 1)
        self.assertTrue(any("only the SVM computed" in f for f in failures))

    def test_missing_answer_and_clock(self):
        client = [request(1001, "r0"), *segments(1001.5, "r0", "aaaa")]
        failures, _ = self.check(client, [request(1001.01, "r0"),
                                          *segments(1001.1, "r0", "aaaa")],
                                 [(1001.2, 1001.4), (4999.0, 5000.0)])
        self.assertTrue(any("r1: not in the client's capture" in f for f in failures))
        self.assertTrue(any("not comparable" in f for f in failures))

    def test_checkpoints_before_the_capture(self):
        # The trace covers the whole run: checkpoints before the capture
        # started are in the run's window, not in the capture's
        failures, _ = self.two_answers((1001.1, 1002.1), (1001.5, 1002.3),
                                       [(991.0, 992.0), (995.0, 995.1), (1001.2, 1001.4),
                                        (1002.15, 1002.2), (1104.0, 1105.0)])
        self.assertEqual(failures, [])

    def test_packet_outside_the_capture_window(self):
        failures, _ = self.two_answers((1001.1, 1002.1), (1001.5, 1002.3),
                                       [(1001.2, 1001.4), (1002.15, 1002.2)],
                                       capture_window=(1001.2, 1100.0))
        self.assertEqual(len(failures), 1)
        self.assertIn("capture time(s) outside", failures[0])
        self.assertIn("not comparable", failures[0])

    def test_nanosecond_pcap(self):
        with open(self.client, "wb") as f:
            _, data = request(0, "r0")
            f.write(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
            f.write(struct.pack(">IIII", 1000, 250_000_123, len(data), len(data)) + data)
        ((t, frame_),) = read_pcap(self.client)
        self.assertAlmostEqual(t, 1000.250000123, places=7)
        self.assertEqual(frame_, data)

    def test_serial_and_trace_parsing(self):
        self.assertEqual(random_values("x\nCOLO-RANDOM tag=r3 value=ab12\r\n"), {"r3": "ab12"})
        trace = os.path.join(self.dir.name, "t.log")
        with open(trace, "w") as f:
            f.write("12@1000.400000:colo_checkpoint_phase request-and-stop took 9 us\n"
                    "12@1000.500000:colo_checkpoint_phase save took 100 us\n"
                    "12@1000.600000:colo_checkpoint_phase wait-received took 90 us\n"
                    "12@1000.700000:colo_checkpoint_phase request-and-stop took 9 us\n"
                    "12@1000.800000:colo_checkpoint_phase request-and-stop took 9 us\n"
                    "12@1000.900042:colo_checkpoint_phase wait-received took 80 us\n"
                    "12@1001.000000:colo_checkpoint_phase request-and-stop took 9 us\n"
                    "12@1001.7")
        # A checkpoint that failed before it was received covers nothing
        self.assertEqual(checkpoint_windows(trace), [(1000.4, 1000.6), (1000.8, 1000.900042)])

    def test_console_times(self):
        trace = os.path.join(self.dir.name, "t.log")
        lines = []
        for t, text in ((1000.1, "COLO-RANDOM-START tag=r1\r\n"), (1000.3, "boot\n"),
                        (1000.5, "COLO-RANDOM tag=r1 value=ab\r\n"),
                        (1000.7, "COLO-RANDOM tag=r2 value=cd\n")):
            for i, ch in enumerate(text):
                lines.append(f"7@{t + i / 1000:.6f}:serial_write write addr 0x00 "
                             f"val 0x{ord(ch):02x}\n")
            lines.append(f"7@{t:.6f}:serial_write write addr 0x01 val 0x00\n")
        with open(trace, "w") as f:
            f.writelines(lines)
        self.assertEqual(compute_windows(trace), {"r1": (1000.1, 1000.5)})


if __name__ == "__main__":
    unittest.main()
