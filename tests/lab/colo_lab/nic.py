"""colo-nic: COLO's packet comparison in the host kernel's path. QEMU
object arguments, the checks that the lab can run it, and what the lab
can see of the host side (colo-proxy-script.sh's bridge and rules).

  primary ns:   br0 = lan-cli + lan-sec + tap0 (PVM); mirror of the LAN
                ports' ingress -> fwd0; cfb-fwd0 = fwd0 + a dead end
  secondary ns: cfb-fwd0 = fwd0 + tap0 (SVM); br0 = lan-pri
                (tap0 goes back to br0 on failover)
"""

import os
import subprocess

from .qmp import QMPError
from .topology import LabError, run

FORWARD_IF = "fwd0"
FORWARD_BRIDGE = "cfb-" + FORWARD_IF
PVM_QUEUE, SVM_QUEUE = 0, 1
INGRESS_QUEUE, EGRESS_QUEUE = 0, 1
IPTABLES = "iptables-nft"          # the script's default flavour
STATE_DIR = "/run/colo-proxy"      # the script's default state directory
OBJECT_ID = "cn0"                  # the colo-nic object's id on both sides
IOTHREAD_ID = "cn-io"              # the iothread colo-nic reads its queues in
# colo-nic's read-only uint64 counters (qom-get). The primary compares
# (held ... refused), the secondary rewrites (rewritten); both have queues
# (recv-overflows, kernel-dropped) and give verdicts (verdict-errors); the
# primary drops what it holds when comparing stops (dropped-held).
COUNTERS = ("held", "released", "mismatches", "timeouts", "refused", "rewritten",
            "recv-overflows", "kernel-dropped", "verdict-errors", "dropped-held",
            "budget-checkpoints")
# Counters an older QEMU does not have: left out of counters()
NEWER_COUNTERS = ("verdict-errors", "dropped-held", "budget-checkpoints")


def default_script(qemu):
    """The script in the QEMU tree the binary was built from
    (TREE/build/qemu-system-x86_64 -> TREE/scripts/colo-proxy-script.sh)."""
    tree = os.path.dirname(os.path.dirname(os.path.abspath(qemu)))
    return os.path.join(tree, "scripts", "colo-proxy-script.sh")


def check(qemu, script):
    """One clear error when this QEMU or host cannot run colo-nic."""
    proc = subprocess.run([qemu, "-object", "help"], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)
    if "colo-nic" not in proc.stdout.split():
        raise LabError(f"colo-nic unavailable: {qemu} has no colo-nic object")
    if not os.access(script, os.X_OK):
        raise LabError(f"colo-nic unavailable: no executable proxy script at {script}")
    for tool in (IPTABLES, "tc"):
        if run("sh", "-c", f"command -v {tool}", check=False).returncode != 0:
            raise LabError(f"colo-nic unavailable: no {tool} (run scripts/install-lab-deps.sh)")


def primary_object(script):
    """The primary's colo-nic, reading its queues in an iothread of its own
    (the setting the docs recommend: verdicts do not wait for the BQL)."""
    return ["-object", f"iothread,id={IOTHREAD_ID}",
            "-object", f"colo-nic,id={OBJECT_ID},netdev=hn0,role=primary,pvm-queue={PVM_QUEUE},"
                       f"svm-queue={SVM_QUEUE},forward-nic={FORWARD_IF},script={script},"
                       f"iothread={IOTHREAD_ID}"]


def secondary_object(script):
    return ["-object", f"iothread,id={IOTHREAD_ID}",
            "-object", f"colo-nic,id={OBJECT_ID},netdev=hn0,role=secondary,"
                       f"ingress-queue={INGRESS_QUEUE},egress-queue={EGRESS_QUEUE},"
                       f"forward-nic={FORWARD_IF},script={script},iothread={IOTHREAD_ID}"]


def counters(vm):
    """{counter: value} of the VM's colo-nic object (without the counters
    an older QEMU does not have)."""
    values = {}
    for name in COUNTERS:
        try:
            values[name] = vm.qmp.cmd("qom-get", path=f"/objects/{OBJECT_ID}", property=name)
        except QMPError:
            if name not in NEWER_COUNTERS:
                raise
    return values


def bound_queues(netns):
    """The netfilter queue numbers that have a listener in netns, from
    /proc/net/netfilter/nfnetlink_queue (one line a bound queue)."""
    out = run("ip", "netns", "exec", netns, "cat", "/proc/net/netfilter/nfnetlink_queue",
              check=False).stdout
    return sorted(int(line.split()[0]) for line in out.splitlines() if line.strip())


def master(netns, ifname):
    """The bridge ifname is a port of in netns, None if none."""
    out = run("ip", "-n", netns, "-o", "link", "show", "dev", ifname).stdout.split()
    return out[out.index("master") + 1] if "master" in out else None


def tagged_rules(netns, tap="tap0"):
    """The script's iptables rules for tap in netns, as 'TABLE RULE' lines."""
    rules = []
    for table in ("mangle", "filter", "raw"):
        out = run("ip", "netns", "exec", netns, IPTABLES, "-w", "-t", table, "-S").stdout
        rules += [f"{table} {line}" for line in out.splitlines()
                  if f'"colo-proxy:{tap}"' in line]
    return rules


def remove_state(netns):
    """The script's state files of netns (left behind when QEMU was killed)."""
    try:
        ino = os.stat(f"/run/netns/{netns}").st_ino
        names = os.listdir(STATE_DIR)
    except OSError:
        return
    for name in names:
        if name.startswith(f"{ino}-"):
            try:
                os.unlink(os.path.join(STATE_DIR, name))
            except OSError:
                pass
