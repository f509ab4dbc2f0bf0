"""Unit tests for nic-checkpoint-edge's reading of the secondary's trace
(tests/lab/colo_lab/nic_stream.py)."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

import colo_lab.scenarios  # noqa: E402,F401  (nic_stream is loaded through it)
from colo_lab.nic_stream import stale_translations  # noqa: E402

STOP = "1@{t}:colo_vm_state_change Change 'run' => 'stop'\n"
RUN = "1@{t}:colo_vm_state_change Change 'stop' => 'run'\n"
RESET = "2@{t}:colo_rewriter_checkpoint freed 1 kept 0\n"
TO_GUEST = "2@{t}:colo_rewriter_to_guest ack {a} -> {b} flags 0x10 sack blocks 0 ts 1\n"


class StaleTranslationsTest(unittest.TestCase):
    def count(self, lines):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.writelines(lines)
        try:
            return stale_translations(f.name)
        finally:
            os.unlink(f.name)

    def test_changed_ack_between_stop_and_reset_is_stale(self):
        self.assertEqual(self.count([
            STOP.format(t="1.0"), TO_GUEST.format(t="1.01", a=100, b=70),
            RESET.format(t="1.02"), RUN.format(t="1.03")]), (1, 1))

    def test_before_the_stop_and_after_the_reset_not_stale(self):
        self.assertEqual(self.count([
            TO_GUEST.format(t="0.9", a=100, b=70), STOP.format(t="1.0"),
            RESET.format(t="1.02"), TO_GUEST.format(t="1.021", a=100, b=70),
            RUN.format(t="1.03")]), (1, 0))

    def test_unchanged_ack_not_stale(self):
        self.assertEqual(self.count([
            STOP.format(t="1.0"), TO_GUEST.format(t="1.01", a=100, b=100),
            RESET.format(t="1.02")]), (1, 0))

    def test_lines_ordered_by_time_not_by_place(self):
        # two threads write the log: the reset may land before an earlier packet
        self.assertEqual(self.count([
            STOP.format(t="1.0"), RESET.format(t="1.02"),
            TO_GUEST.format(t="1.01", a=100, b=70)]), (1, 1))


if __name__ == "__main__":
    unittest.main()
