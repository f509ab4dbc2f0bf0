"""scripts/fetch-upstream.sh answers bad input with one clear error line.

Each case runs a copy of the scripts in a temporary root (with its own
upstream.conf and upstream.sha256), so the repository's pin is untouched.
The checksum and version cases ask the machine's Debian mirror.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class FetchErrorsTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="colo-ft-fetch-")
        self.addCleanup(shutil.rmtree, self.root)
        shutil.copytree(os.path.join(ROOT, "scripts"), os.path.join(self.root, "scripts"))
        for name in ("upstream.conf", "upstream.sha256"):
            shutil.copy(os.path.join(ROOT, name), self.root)

    def fetch(self, **env):
        proc = subprocess.run([os.path.join(self.root, "scripts", "fetch-upstream.sh")],
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, **env))
        return proc.returncode, proc.stderr.strip().splitlines()

    def assert_one_error(self, rc, lines, pattern):
        self.assertNotEqual(rc, 0)
        errors = [line for line in lines if ": error: " in line]
        self.assertEqual(len(errors), 1, lines)
        self.assertRegex(errors[0], pattern)

    def test_qemu_src_missing(self):
        rc, lines = self.fetch(QEMU_SRC="/nonexistent/qemu")
        self.assert_one_error(rc, lines, "QEMU_SRC=/nonexistent/qemu is not a directory")

    def test_qemu_src_not_qemu(self):
        rc, lines = self.fetch(QEMU_SRC=self.root)
        self.assert_one_error(rc, lines, "is not a QEMU source tree")

    def test_qemu_src_other_version(self):
        src = os.path.join(self.root, "qemu-9.2.0")
        os.mkdir(src)
        with open(os.path.join(src, "VERSION"), "w") as f:
            f.write("9.2.0\n")
        rc, lines = self.fetch(QEMU_SRC=src)
        self.assert_one_error(rc, lines, "holds QEMU 9.2.0, the series is pinned to 10.0.13")

    def test_checksum_mismatch(self):
        path = os.path.join(self.root, "upstream.sha256")
        with open(path) as f:
            sums = f.read().splitlines()
        sums[0] = "0" * 64 + sums[0][64:]
        with open(path, "w") as f:
            f.write("\n".join(sums) + "\n")
        rc, lines = self.fetch()
        self.assert_one_error(rc, lines, "checksum mismatch for the downloaded qemu")
        self.assertFalse(os.path.exists(os.path.join(self.root, "cache", "upstream",
                                                     "qemu-10.0.13")))

    def test_version_gone_from_mirror(self):
        conf = os.path.join(self.root, "upstream.conf")
        with open(conf) as f:
            text = f.read().replace("1:10.0.13+ds-0+deb13u1", "1:10.0.99+ds-0+deb13u9")
        with open(conf, "w") as f:
            f.write(text)
        rc, lines = self.fetch()
        self.assert_one_error(rc, lines, r"is not on the mirror \(10\.0\.x offered: 1:10\.0\.")


if __name__ == "__main__":
    unittest.main()
