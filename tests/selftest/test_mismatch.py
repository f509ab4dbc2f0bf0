"""Unit tests for the colo-nic evidence (colo_lab.capture, colo_lab.mismatch):
a synthetic client capture and checkpoint trace."""

import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

from colo_lab.capture import read_pcap, tcp_segments  # noqa: E402
from colo_lab.mismatch import check_release, commit_times, random_values  # noqa: E402

CLIENT, GUEST = "10.77.0.1", "10.77.0.10"


def frame(src, dst, payload):
    ip_src = bytes(map(int, src.split(".")))
    ip_dst = bytes(map(int, dst.split(".")))
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 5 << 4, 0x18, 1000, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0,
                     ip_src, ip_dst) + tcp
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in packets:
            f.write(struct.pack("<IIII", int(t), round((t % 1) * 1e6), len(data), len(data)))
            f.write(data)


def request(t, tag):
    return t, frame(CLIENT, GUEST, f"GET /cgi-bin/random?tag={tag} HTTP/1.1\r\n".encode())


def answer(t, tag, value):
    return t, frame(GUEST, CLIENT, f"HTTP/1.0 200 OK\r\n\r\ntag={tag} value={value}\n".encode())


class MismatchEvidenceTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.pcap = os.path.join(self.dir.name, "c.pcap")
        self.pvm = {"r0": "aaaa", "r1": "bbbb"}
        self.svm = {"r0": "cccc", "r1": "dddd"}

    def tearDown(self):
        self.dir.cleanup()

    def check(self, packets, commits, capture_window=(1000.0, 1100.0),
              run_window=(990.0, 1110.0)):
        write_pcap(self.pcap, packets)
        return check_release(self.pcap, CLIENT, GUEST, self.pvm, self.svm, commits,
                             capture_window, run_window)

    def test_reader(self):
        write_pcap(self.pcap, [request(1000.25, "r0")])
        (seg,) = tcp_segments(read_pcap(self.pcap))
        self.assertAlmostEqual(seg[0], 1000.25, places=5)
        self.assertEqual(seg[1:3], (CLIENT, GUEST))
        self.assertTrue(seg[7].startswith(b"GET /cgi-bin/random?tag=r0"))

    def test_released_after_commit(self):
        failures, fig = self.check([request(1001, "r0"), answer(1001.5, "r0", "aaaa"),
                                    request(1002, "r1"), answer(1002.3, "r1", "bbbb")],
                                   [1001.4, 1002.2])
        self.assertEqual(failures, [])
        self.assertEqual((fig["svm_differing"], fig["released_before_commit"]), (2, 0))

    def test_released_before_commit(self):
        failures, fig = self.check([request(1001, "r0"), answer(1001.2, "r0", "aaaa"),
                                    request(1002, "r1"), answer(1002.3, "r1", "bbbb")],
                                   [1000.5, 1001.4, 1002.2])
        self.assertEqual(fig["released_before_commit"], 1)
        self.assertIn("before any checkpoint after their request, e.g. r0", failures[0])

    def test_svm_value_leaked(self):
        failures, fig = self.check([request(1001, "r0"), answer(1001.5, "r0", "cccc"),
                                    request(1002, "r1"), answer(1002.3, "r1", "bbbb")],
                                   [1001.4, 1002.2])
        self.assertEqual(fig["svm_only_values_received"], 1)
        self.assertTrue(any("only the SVM computed" in f for f in failures))

    def test_missing_answer_and_clock(self):
        failures, _ = self.check([request(1001, "r0"), answer(1001.5, "r0", "aaaa")],
                                 [1001.4, 5000.0])
        self.assertTrue(any("r1: not in the client's capture" in f for f in failures))
        self.assertTrue(any("not comparable" in f for f in failures))

    def test_checkpoints_before_the_capture(self):
        # The trace covers the whole run: checkpoints before the capture
        # started are in the run's window, not in the capture's
        failures, _ = self.check([request(1001, "r0"), answer(1001.5, "r0", "aaaa"),
                                  request(1002, "r1"), answer(1002.3, "r1", "bbbb")],
                                 [992.0, 995.0, 1001.4, 1002.2, 1105.0])
        self.assertEqual(failures, [])

    def test_packet_outside_the_capture_window(self):
        failures, _ = self.check([request(1001, "r0"), answer(1001.5, "r0", "aaaa"),
                                  request(1002, "r1"), answer(1002.3, "r1", "bbbb")],
                                 [1001.4, 1002.2], capture_window=(1001.2, 1100.0))
        self.assertEqual(len(failures), 1)
        self.assertIn("1 capture time(s) outside", failures[0])
        self.assertIn("not comparable", failures[0])

    def test_nanosecond_pcap(self):
        with open(self.pcap, "wb") as f:
            _, data = request(0, "r0")
            f.write(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
            f.write(struct.pack(">IIII", 1000, 250_000_123, len(data), len(data)) + data)
        ((t, frame_),) = read_pcap(self.pcap)
        self.assertAlmostEqual(t, 1000.250000123, places=7)
        self.assertEqual(frame_, data)

    def test_serial_and_trace_parsing(self):
        self.assertEqual(random_values("x\nCOLO-RANDOM tag=r3 value=ab12\r\n"), {"r3": "ab12"})
        trace = os.path.join(self.dir.name, "t.log")
        with open(trace, "w") as f:
            f.write("12@1000.500000:colo_checkpoint_phase save took 100 us\n"
                    "12@1000.600000:colo_checkpoint_phase wait-received took 90 us\n"
                    "12@1000.000042:colo_checkpoint_phase wait-received took 80 us\n"
                    "12@1001.7")
        self.assertEqual(commit_times(trace), [1000.6, 1000.000042])


if __name__ == "__main__":
    unittest.main()
