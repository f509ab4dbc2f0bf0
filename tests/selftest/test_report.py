"""Unit tests for the lab's accounting (colo_lab.report)."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

from colo_lab.report import (CheckpointFollower, checkpoint_pauses, first_answer_after,  # noqa: E402
                              phase_medians, request_summary)


def answered(rid, count, seen=1, t=None):
    return {"id": rid, "attempts": 1, "sent": float(rid), "answered": t or rid + 0.5,
            "count": count, "seen": seen}


def lost(rid):
    return {"id": rid, "attempts": 3, "sent": float(rid), "lost": True}


class RequestSummaryTest(unittest.TestCase):
    def test_clean_sequence(self):
        s = request_summary([answered(i, 10 + i) for i in range(1, 6)])
        self.assertEqual((s["sent"], s["answered"], s["lost"]), (5, 5, 0))
        self.assertEqual((s["duplicated"], s["counter_gaps"], s["counter_rollbacks"]), (0, 0, 0))

    def test_seen_twice_is_a_duplicate(self):
        s = request_summary([answered(1, 1), answered(2, 3, seen=2)])
        self.assertEqual(s["duplicated"], 1)

    def test_counter_jump_is_a_gap(self):
        s = request_summary([answered(1, 1), answered(2, 2), answered(3, 4)])
        self.assertEqual(s["counter_gaps"], 1)

    def test_counter_step_back_is_a_rollback(self):
        s = request_summary([answered(1, 5), answered(2, 6), answered(3, 6)])
        self.assertEqual(s["counter_rollbacks"], 1)

    def test_lost_request_may_explain_one_step(self):
        s = request_summary([answered(1, 1), lost(2), answered(3, 3)])
        self.assertEqual((s["lost"], s["counter_gaps"]), (1, 0))

    def test_retries_are_counted(self):
        rec = answered(1, 1)
        rec["attempts"] = 2
        self.assertEqual(request_summary([rec])["retried"], 1)

    def test_first_answer_after(self):
        recs = [answered(1, 1, t=10.0), answered(2, 2, t=12.5), lost(3)]
        self.assertAlmostEqual(first_answer_after(recs, 11.0), 1.5)
        self.assertIsNone(first_answer_after(recs, 13.0))


class CheckpointPausesTest(unittest.TestCase):
    def trace(self, lines):
        f = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
        f.write("\n".join(lines) + "\n")
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_pairs_of_stop_and_run(self):
        path = self.trace([
            "7@100.000000:colo_vm_state_change Change 'stop' => 'run'",
            "7@101.000000:colo_vm_state_change Change 'run' => 'stop'",
            "7@101.012500:colo_send_message Send 'vmstate-send' message",
            "7@101.020000:colo_vm_state_change Change 'stop' => 'run'",
            "7@102.000000:colo_vm_state_change Change 'run' => 'stop'",
            "garbage line",
            "7@102.050000:colo_vm_state_change Change 'stop' => 'run'",
            "7@103.000000:colo_vm_state_change Change 'run' => 'stop'",
        ])
        pauses = checkpoint_pauses(path)
        self.assertEqual(len(pauses), 2)
        self.assertAlmostEqual(pauses[0][1], 0.020, places=6)
        self.assertAlmostEqual(pauses[1][1], 0.050, places=6)

    def test_phase_medians(self):
        path = self.trace([
            "7@1.0:colo_checkpoint_phase ram-save took 1500 us",
            "7@2.0:colo_checkpoint_phase ram-save took 2500 us",
            "7@3.0:colo_checkpoint_phase ram-save took 9000 us",
            "7@3.1:colo_checkpoint_phase wait-loaded took 12000 us",
            "7@3.2:colo_vm_state_change Change 'stop' => 'run'",
        ])
        self.assertEqual(phase_medians(path), {"ram-save": 2.5, "wait-loaded": 12.0})

    def test_follower_reads_only_what_was_appended(self):
        path = self.trace(["7@1.0:colo_vm_state_change Change 'run' => 'stop'"])
        follower = CheckpointFollower(path)
        self.assertEqual(follower.update(), 0)
        with open(path, "a") as f:
            f.write("7@1.1:colo_vm_state_change Change 'stop' => 'run'\n"
                    "7@2.0:colo_vm_state_change Change 'run' => 'st")
        self.assertEqual(follower.update(), 1)
        with open(path, "a") as f:
            f.write("op'\n7@2.2:colo_vm_state_change Change 'stop' => 'run'\n")
        self.assertEqual(follower.update(), 2)
        self.assertEqual(follower.update(), len(checkpoint_pauses(path)))

    def test_missing_trace_has_no_checkpoints(self):
        self.assertEqual(checkpoint_pauses("/nonexistent/trace.log"), [])


if __name__ == "__main__":
    unittest.main()
