"""The lab network: namespaces for the client, the primary host and the
secondary host.

  client ns        primary ns                     secondary ns
  eth0 --------- lan-cli  [br0]  lan-sec ------- lan-pri  [br0]
  10.77.0.1                 |                               |
                         PVM tap                         SVM tap
                   ft0 10.77.1.1 ==================== ft0 10.77.1.2

br0 on both hosts is one LAN: when a VM's tap goes away its bridge forgets
the MAC and the client's traffic reaches the other host. ft0 carries the
COLO traffic (migration, NBD, the proxy's sockets).

With forward=True (colo-nic) a veth pair fwd0 joins the two hosts too:
colo-nic's forward interface, which carries the client's frames to the
SVM and the SVM's frames back (see nic.py).
"""

import os
import re
import subprocess

CLIENT_IP = "10.77.0.1"
GUEST_IP = "10.77.0.10"
LAN_PREFIX = 24
# The LAN's IPv6 addresses (the guest's is the default of its colo.ip6)
CLIENT_IP6 = "fd77::1"
GUEST_IP6 = "fd77::10"
LAN_PREFIX6 = 64
PRIMARY_FT_IP = "10.77.1.1"
SECONDARY_FT_IP = "10.77.1.2"

PREFIX = "cft"


class LabError(Exception):
    """A lab step failed; the message is one line for the user."""


def run(*cmd, check=True):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {_last_line(proc)}")
    return proc


def _last_line(proc):
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_namespaces():
    """Delete namespaces left behind by lab runs whose process is gone."""
    out = run("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        m = re.match(rf"({PREFIX}(\d+)-\w+)", line)
        if m and not _pid_alive(int(m.group(2))):
            run("ip", "netns", "del", m.group(1), check=False)


def preflight():
    """Check the kernel features the lab needs, with one clear error."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces and taps)")
    if not os.path.exists("/dev/net/tun"):
        raise LabError("no /dev/net/tun: the kernel has no tap support (CONFIG_TUN)")
    probe = f"{PREFIX}{os.getpid()}-probe"
    proc = run("ip", "netns", "add", probe, check=False)
    if proc.returncode != 0:
        raise LabError("network namespaces are unavailable: " + _last_line(proc))
    try:
        proc = run("ip", "-n", probe, "link", "add", "br0", "type", "bridge", check=False)
        if proc.returncode != 0:
            raise LabError("the kernel cannot create bridges: " + _last_line(proc))
        proc = run("ip", "-n", probe, "link", "add", "v0", "type", "veth",
                   "peer", "name", "v1", check=False)
        if proc.returncode != 0:
            raise LabError("the kernel cannot create veth pairs: " + _last_line(proc))
    finally:
        run("ip", "netns", "del", probe, check=False)


class Topology:
    """Creates the namespaces and links; remove() deletes them all."""

    def __init__(self, forward=False):
        self.forward = forward
        base = f"{PREFIX}{os.getpid()}"
        self.client = f"{base}-cli"
        self.primary = f"{base}-pri"
        self.secondary = f"{base}-sec"
        self.namespaces = []

    def _ns(self, name):
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def _veth(self, ns_a, name_a, ns_b, name_b):
        run("ip", "-n", ns_a, "link", "add", name_a, "type", "veth",
            "peer", "name", name_b, "netns", ns_b)
        run("ip", "-n", ns_a, "link", "set", name_a, "up")
        run("ip", "-n", ns_b, "link", "set", name_b, "up")

    def _bridge(self, ns, *ports):
        run("ip", "-n", ns, "link", "add", "br0", "type", "bridge",
            "stp_state", "0", "forward_delay", "0")
        run("ip", "-n", ns, "link", "set", "br0", "up")
        for port in ports:
            run("ip", "-n", ns, "link", "set", port, "master", "br0")

    def create(self):
        for ns in (self.client, self.primary, self.secondary):
            self._ns(ns)
        self._veth(self.client, "eth0", self.primary, "lan-cli")
        self._veth(self.primary, "lan-sec", self.secondary, "lan-pri")
        self._veth(self.primary, "ft0", self.secondary, "ft0")
        if self.forward:
            self._veth(self.primary, "fwd0", self.secondary, "fwd0")
        self._bridge(self.primary, "lan-cli", "lan-sec")
        self._bridge(self.secondary, "lan-pri")
        run("ip", "-n", self.client, "addr", "add",
            f"{CLIENT_IP}/{LAN_PREFIX}", "dev", "eth0")
        run("ip", "-n", self.client, "addr", "add",
            f"{CLIENT_IP6}/{LAN_PREFIX6}", "dev", "eth0", "nodad")
        run("ip", "-n", self.primary, "addr", "add", f"{PRIMARY_FT_IP}/24", "dev", "ft0")
        run("ip", "-n", self.secondary, "addr", "add", f"{SECONDARY_FT_IP}/24", "dev", "ft0")

    def add_tap(self, ns, name="tap0", bridge="br0"):
        """A persistent tap in ns on its LAN bridge, for a QEMU that is
        handed the tap by name (libvirt's <interface type='ethernet'>)."""
        run("ip", "-n", ns, "tuntap", "add", "dev", name, "mode", "tap")
        run("ip", "-n", ns, "link", "set", name, "master", bridge)
        run("ip", "-n", ns, "link", "set", name, "up")

    def remove(self):
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        self.namespaces = []
