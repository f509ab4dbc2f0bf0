"""The lab's preflight turns missing kernel features into one clear line."""

import os
import subprocess
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

from colo_lab import topology  # noqa: E402
from colo_lab.topology import LabError, preflight  # noqa: E402


def completed(rc, stderr=""):
    return subprocess.CompletedProcess([], rc, "", stderr)


def preflight_as_root(**run_mock):
    """preflight() as root with /dev/net/tun present and topology.run mocked."""
    with mock.patch("os.geteuid", return_value=0), \
         mock.patch("os.path.exists", return_value=True), \
         mock.patch.object(topology, "run", **run_mock):
        preflight()


class PreflightTest(unittest.TestCase):
    def test_needs_root(self):
        with mock.patch("os.geteuid", return_value=1000):
            with self.assertRaisesRegex(LabError, "needs root"):
                preflight()

    def test_no_tap(self):
        with mock.patch("os.geteuid", return_value=0), \
             mock.patch("os.path.exists", return_value=False):
            with self.assertRaisesRegex(LabError, "no /dev/net/tun"):
                preflight()

    def test_no_namespaces(self):
        with self.assertRaisesRegex(LabError, "network namespaces are unavailable: mount"):
            preflight_as_root(
                return_value=completed(1, "mount --make-shared: Permission denied"))

    def test_no_bridge(self):
        answers = iter([completed(0), completed(2, "Unknown device type."), completed(0)])
        with self.assertRaisesRegex(LabError, "cannot create bridges: Unknown device"):
            preflight_as_root(side_effect=lambda *a, **k: next(answers))

    def test_messages_are_one_line(self):
        with self.assertRaises(LabError) as ctx:
            preflight_as_root(return_value=completed(1, "noise\nmore noise\nthe cause\n"))
        self.assertNotIn("\n", str(ctx.exception))
        self.assertTrue(str(ctx.exception).endswith("the cause"))


if __name__ == "__main__":
    unittest.main()
