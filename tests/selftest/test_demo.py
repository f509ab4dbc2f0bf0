"""Unit tests for make demo's account of a failover (tests/lab/demo.py)."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

import demo  # noqa: E402


class FailoverStoryTest(unittest.TestCase):
    def story(self, steps):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "timeline.json"), "w") as f:
                json.dump(steps, f)
            return demo.failover_story({"rundir": d})

    def test_steps_timed_from_the_kill(self):
        out = self.story([[1.0, "COLO running"], [10.0, "primary killed (SIGKILL)"],
                          [10.01, "the secondary reports the loss"],
                          [10.3, "first request served"]]).splitlines()
        self.assertEqual(len(out), 4)                 # header and the three steps
        self.assertIn("+0.00s  primary killed", out[1])
        self.assertIn("+0.01s  the secondary reports", out[2])
        self.assertIn("+0.30s  first request served", out[3])

    def test_no_kill(self):
        self.assertIn("no kill", self.story([[1.0, "COLO running"]]))

    def test_no_timeline(self):
        self.assertIn("no kill", demo.failover_story({"rundir": "/nonexistent"}))


if __name__ == "__main__":
    unittest.main()
