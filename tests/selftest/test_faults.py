"""Unit tests for the fault scenarios' pure logic: live-copy counting
(colo_lab.liveness), the echo probe's frames (colo_lab.probe) and the
verdicts of colo_lab.faults, from fake inputs."""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

from colo_lab.faults import largest_checkpoint, longest_stall, secondary_outcome  # noqa: E402
from colo_lab.liveness import is_live, live_copies, parse_process_state, verdict  # noqa: E402
from colo_lab.probe import checksum, echo_request_frame, is_echo_reply  # noqa: E402

GUEST_MAC, CLIENT_MAC = "52:54:00:77:00:10", "02:00:00:00:00:01"
GUEST_IP, CLIENT_IP = "10.77.0.10", "10.77.0.1"


def obs(name, process="running", status="running", answers=True):
    return {"name": name, "process": process, "status": status, "answers": answers,
            "rtt_ms": 1.0 if answers else None}


class ProcessStateTest(unittest.TestCase):
    def test_letters(self):
        self.assertEqual(parse_process_state("42 (qemu-system-x86) S 1 42"), "running")
        self.assertEqual(parse_process_state("42 (qemu-system-x86) R 1 42"), "running")
        self.assertEqual(parse_process_state("42 (qemu-system-x86) T 1 42"), "stopped")
        self.assertEqual(parse_process_state("42 (qemu-system-x86) t 1 42"), "stopped")
        self.assertEqual(parse_process_state("42 (qemu-system-x86) Z 1 42"), "gone")

    def test_command_name_with_parenthesis(self):
        self.assertEqual(parse_process_state("42 (a) T (b)) S 1 42"), "running")
        self.assertEqual(parse_process_state("42 (x) y) T 1 42"), "stopped")


class LiveCopiesTest(unittest.TestCase):
    def test_one_serving_copy(self):
        copies = [obs("primary"), obs("secondary", status="paused", answers=False)]
        self.assertEqual(live_copies(copies), ["primary"])
        self.assertIsNone(verdict(copies, "after")[1])

    def test_two_serving_copies_fail(self):
        figures, failure = verdict([obs("primary"), obs("secondary")], "after the cut")
        self.assertEqual(figures["live"], ["primary", "secondary"])
        self.assertIn("2 live copies", failure)
        self.assertIn("after the cut", failure)

    def test_none_serving_is_not_a_split(self):
        copies = [obs("primary", process="stopped", status=None, answers=False),
                  obs("secondary", status="colo", answers=False)]
        figures, failure = verdict(copies, "frozen")
        self.assertEqual(figures["live"], [])
        self.assertIsNone(failure)

    def test_running_but_silent_is_not_live(self):
        self.assertFalse(is_live(obs("primary", answers=False)))

    def test_answers_but_not_running_is_not_live(self):
        # An answer from a guest QEMU calls paused (sampled a moment apart)
        self.assertFalse(is_live(obs("secondary", status="paused")))

    def test_stopped_or_stuck_process(self):
        self.assertFalse(is_live(obs("primary", process="stopped")))
        self.assertFalse(is_live(obs("primary", status="monitor stuck")))
        self.assertFalse(is_live(obs("primary", process="gone")))


class ProbeFrameTest(unittest.TestCase):
    def frame(self, ident=7, seq=1):
        return echo_request_frame(GUEST_MAC, CLIENT_MAC, GUEST_IP, CLIENT_IP, ident, seq)

    def reply_to(self, frame, ident=None, src_ip=GUEST_IP, icmp_type=0):
        """The guest's answer to frame: addresses swapped, type 0."""
        ip = bytearray(frame[14:34])
        ip[12:16], ip[16:20] = bytes(map(int, src_ip.split("."))), ip[12:16]
        icmp = bytearray(frame[34:])
        icmp[0] = icmp_type
        if ident is not None:
            icmp[4:6] = struct.pack("!H", ident)
        return frame[6:12] + frame[0:6] + frame[12:14] + bytes(ip) + bytes(icmp)

    def test_checksums_verify(self):
        f = self.frame()
        self.assertEqual(checksum(f[14:34]), 0)
        self.assertEqual(checksum(f[34:]), 0)

    def test_addresses(self):
        f = self.frame()
        self.assertEqual(f[0:6], bytes.fromhex("525400770010"))
        self.assertEqual(f[12:14], b"\x08\x00")
        self.assertEqual(f[14 + 9], 1)
        self.assertEqual(f[14 + 16:14 + 20], bytes([10, 77, 0, 10]))

    def test_odd_length_checksum(self):
        self.assertEqual(checksum(b"\x01"), checksum(b"\x01\x00"))

    def test_reply_recognized(self):
        self.assertTrue(is_echo_reply(self.reply_to(self.frame()), GUEST_IP, 7))

    def test_not_a_reply(self):
        f = self.frame()
        self.assertFalse(is_echo_reply(f, CLIENT_IP, 7))              # the request itself
        self.assertFalse(is_echo_reply(self.reply_to(f, ident=8), GUEST_IP, 7))
        self.assertFalse(is_echo_reply(self.reply_to(f, src_ip="10.77.0.99"), GUEST_IP, 7))
        self.assertFalse(is_echo_reply(f[:30], GUEST_IP, 7))
        arp = f[:12] + b"\x08\x06" + f[14:]
        self.assertFalse(is_echo_reply(arp, GUEST_IP, 7))


def colo_status(mode, last_mode="secondary", reason="none", peer_lost=False):
    return {"mode": mode, "last-mode": last_mode, "reason": reason, "peer-lost": peer_lost}


class SecondaryOutcomeTest(unittest.TestCase):
    def test_stood_down(self):
        self.assertEqual(secondary_outcome(colo_status("none", reason="request"), "paused",
                                           False), "stood-down")

    def test_stood_down_but_guest_not_paused(self):
        out = secondary_outcome(colo_status("none", reason="request"), "colo", False)
        self.assertEqual(out, "stood-down, guest colo")

    def test_stood_down_after_reporting_a_loss_is_not_a_stand_down(self):
        out = secondary_outcome(colo_status("none", reason="request"), "paused", True)
        self.assertNotIn(out, ("stood-down", "waiting"))

    def test_waiting(self):
        self.assertEqual(secondary_outcome(colo_status("secondary", peer_lost=True), "colo",
                                           True), "waiting")

    def test_running_guest_whatever_the_mode(self):
        self.assertEqual(secondary_outcome(colo_status("none", reason="error"), "running",
                                           True), "running")
        self.assertEqual(secondary_outcome(colo_status("secondary", peer_lost=True), "running",
                                           True), "running")

    def test_not_noticed_yet(self):
        self.assertEqual(secondary_outcome(colo_status("secondary"), "colo", False),
                         "in-colo")

    def test_took_over(self):
        out = secondary_outcome(colo_status("none", reason="error"), "paused", True)
        self.assertIn("reason error", out)


def stats(n, last, total):
    return {"checkpoints": n, "ram-bytes-last": last, "ram-bytes-total": total}


class LargeCheckpointFiguresTest(unittest.TestCase):
    def test_largest_from_last_and_from_deltas(self):
        # The 30 MiB checkpoint (3 -> 4) is never seen as ram-bytes-last
        samples = [stats(2, 5, 10), stats(3, 7, 17), stats(4, 30, 47), stats(6, 4, 60)]
        self.assertEqual(largest_checkpoint(samples), 30)
        samples = [stats(2, 5, 10), stats(3, 7, 17), stats(5, 4, 60)]
        self.assertEqual(largest_checkpoint(samples), 7)      # 43 is two checkpoints
        self.assertEqual(largest_checkpoint([]), 0)

    def test_longest_stall(self):
        counts = [(0.0, 1), (1.0, 1), (5.0, 2), (6.0, 3), (7.0, 3)]
        self.assertEqual(longest_stall(counts, 8.0), 5.0)
        self.assertEqual(longest_stall(counts, 20.0), 14.0)   # none since t=6
        self.assertIsNone(longest_stall([], 1.0))


if __name__ == "__main__":
    unittest.main()
