"""scripts/fetch-upstream.sh answers bad input with one clear error line.

Each case runs a copy of the scripts in a temporary root (with its own
components/: each component's pin and checksums), so the repository's
pins are untouched.
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
        shutil.copytree(os.path.join(ROOT, "components"), os.path.join(self.root, "components"))

    def fetch(self, component="qemu", **env):
        proc = subprocess.run([os.path.join(self.root, "scripts", "fetch-upstream.sh"), component],
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
        self.assert_one_error(rc, lines, "is not a qemu source tree")

    def test_qemu_src_other_version(self):
        src = os.path.join(self.root, "qemu-9.2.0")
        os.mkdir(src)
        with open(os.path.join(src, "VERSION"), "w") as f:
            f.write("9.2.0\n")
        rc, lines = self.fetch(QEMU_SRC=src)
        self.assert_one_error(rc, lines, "holds qemu 9.2.0, the series is pinned to 10.0.13")

    def test_checksum_mismatch(self):
        path = os.path.join(self.root, "components", "qemu.sha256")
        with open(path) as f:
            sums = f.read().splitlines()
        sums[0] = "0" * 64 + sums[0][64:]
        with open(path, "w") as f:
            f.write("\n".join(sums) + "\n")
        rc, lines = self.fetch()
        self.assert_one_error(rc, lines, "checksum mismatch or missing file for the downloaded qemu")
        self.assertFalse(os.path.exists(os.path.join(self.root, "cache", "upstream",
                                                     "qemu-10.0.13")))

    def test_version_gone_from_mirror(self):
        conf = os.path.join(self.root, "components", "qemu.conf")
        with open(conf) as f:
            text = f.read().replace("1:10.0.13+ds-0+deb13u1", "1:10.0.99+ds-0+deb13u9")
        with open(conf, "w") as f:
            f.write(text)
        rc, lines = self.fetch()
        self.assert_one_error(rc, lines, r"is not on the mirror \(offered: 1:10\.0\.")

    def test_unknown_component(self):
        rc, lines = self.fetch(component="xen")
        self.assert_one_error(rc, lines, r"unknown component 'xen' \(one of: qemu libvirt\)")

    def test_libvirt_src_other_version(self):
        src = os.path.join(self.root, "libvirt-11.2.0")
        os.mkdir(src)
        with open(os.path.join(src, "libvirt.spec.in"), "w") as f:
            f.write("")
        with open(os.path.join(src, "meson.build"), "w") as f:
            f.write("project(\n  'libvirt', 'c',\n  version: '11.2.0',\n)\n")
        rc, lines = self.fetch(component="libvirt", LIBVIRT_SRC=src)
        self.assert_one_error(rc, lines, "holds libvirt 11.2.0, the series is pinned to 11.3.0")

    def test_libvirt_file_missing_on_mirror(self):
        """The archive serves libvirt's tarballs but not its .dsc: a file
        with a checksum that does not arrive fails the fetch."""
        with open(os.path.join(self.root, "components", "libvirt.sha256"), "a") as f:
            f.write("0" * 64 + "  libvirt_11.3.0-3+deb13u3.dsc\n")
        rc, lines = self.fetch(component="libvirt")
        self.assert_one_error(rc, lines, "checksum mismatch or missing file for the downloaded libvirt")


if __name__ == "__main__":
    unittest.main()
