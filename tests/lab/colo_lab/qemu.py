"""QEMU processes of the lab: command lines for the primary and the
secondary of a COLO pair (quorum plus replication over NBD) with one of
two network proxies: upstream's colo-compare stack (colo-compare with
filter-mirror, -redirector and -rewriter) or colo-nic (the host kernel's
path, see nic.py)."""

import os
import signal
import subprocess
from dataclasses import dataclass

from . import nic
from .qmp import QMP
from .topology import GUEST_IP, LAN_PREFIX, PRIMARY_FT_IP, SECONDARY_FT_IP, LabError

FIRMWARE_DIRS = ("/usr/share/seabios", "/usr/lib/ipxe/qemu", "/usr/share/qemu")
GUEST_MAC = "52:54:00:77:00:10"
DISK_SIZE = "64M"
MIGRATION_PORT = 9998
NBD_PORT = 9999
TRACE_EVENTS = ("colo_vm_state_change", "colo_send_message",
                "colo_receive_message", "colo_failover_set_state",
                "colo_flush_ram_cache_begin", "colo_flush_ram_cache_end",
                "colo_checkpoint_phase")
# colo-nic's rare events (not the per-packet ones), with a colo-nic object
# and the guest's serial console writes, so that the times of its lines
# are known (nic-mismatch: when the guest computed a value)
NIC_TRACE_EVENTS = ("colo_nic_mismatch", "colo_nic_refused", "colo_nic_overflow",
                    "colo_nic_timeout", "colo_nic_script", "colo_rewriter_learned",
                    "colo_engine_mismatch", "colo_engine_refused", "serial_write")

LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check_firmware():
    for name, where in (("bios-256k.bin", "seabios"), ("efi-e1000.rom", "ipxe-qemu"),
                        ("linuxboot_dma.bin", "qemu-system-data")):
        if not any(os.path.exists(os.path.join(d, name)) for d in FIRMWARE_DIRS):
            raise LabError(f"firmware {name} missing: install Debian's {where}")


def qemu_img(qemu, *args):
    img = os.path.join(os.path.dirname(qemu), "qemu-img")
    proc = subprocess.run([img, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError(f"qemu-img {' '.join(args)}: {proc.stderr.strip()}")


@dataclass
class Net:
    """The guest's network. proxy: "compare" (upstream's userspace stack)
    or "nic" (colo-nic, with script: colo-proxy-script.sh). queues > 1: a
    multiqueue tap and virtio-net, one vCPU per queue so the guest uses
    them all; otherwise an e1000 on a single-queue tap. ipv6: the guest
    has an IPv6 address too (otherwise its kernel runs without IPv6)."""
    proxy: str = "compare"
    script: str = ""
    queues: int = 1
    ipv6: bool = False

    def device(self):
        if self.queues == 1:
            return f"e1000,id=e0,netdev=hn0,mac={GUEST_MAC}"
        return (f"virtio-net-pci,id=e0,netdev=hn0,mac={GUEST_MAC},mq=on,"
                f"vectors={2 * self.queues + 2}")


def kernel_cmdline(dirty_kbps=0, records=False, ipv6=False):
    """The guest kernel's command line: its address, the memory dirtier's
    rate, whether it writes records to its disk and whether it has IPv6."""
    return (f"console=ttyS0 {'' if ipv6 else 'ipv6.disable=1 '}quiet panic=-1 "
            f"colo.ip={GUEST_IP}/{LAN_PREFIX} colo.dirty_kbps={dirty_kbps} "
            f"colo.records={int(records)}")


def common_args(name, guest, rundir, dirty_kbps=0, net=Net(), records=False):
    """records: the guest writes numbered records to its disk
    (tests/guest/rootfs/bin/colo-records)."""
    args = ["-name", name, "-machine", "pc", "-accel", "tcg",
            "-m", "256", "-smp", str(net.queues), "-nodefaults", "-display", "none",
            "-kernel", os.path.join(guest, "vmlinuz"),
            "-initrd", os.path.join(guest, "initrd.img"),
            "-append", kernel_cmdline(dirty_kbps, records, net.ipv6),
            "-chardev", f"file,id=serial0,path={rundir}/{name}-serial.log",
            "-serial", "chardev:serial0",
            "-qmp", f"unix:{rundir}/{name}-qmp.sock,server=on,wait=off",
            "-msg", "timestamp=on", "-D", f"{rundir}/{name}-trace.log",
            "-netdev", f"tap,id=hn0,vhost=off,ifname=tap0,"
                       f"script={LAB_DIR}/tap-up.sh,downscript=no"
                       + (f",queues={net.queues}" if net.queues > 1 else ""),
            "-device", net.device()]
    for d in FIRMWARE_DIRS:
        args += ["-L", d]
    for ev in TRACE_EVENTS + (NIC_TRACE_EVENTS if net.proxy == "nic" else ()):
        args += ["-trace", ev]
    return args


@dataclass
class Socket:
    """A TCP socket chardev, for the command line (arg) or chardev-add
    (qmp). wait: a server's QEMU does not start until its client came,
    on the command line only (chardev-add must not block the monitor)."""
    id: str
    host: str
    port: int
    server: bool = False
    reconnect_ms: int = 0
    wait: bool = False

    def arg(self):
        opts = f"socket,id={self.id},host={self.host},port={self.port}"
        if self.server:
            opts += f",server=on,wait={'on' if self.wait else 'off'}"
        if self.reconnect_ms:
            opts += f",reconnect-ms={self.reconnect_ms}"
        return ["-chardev", opts]

    def qmp(self):
        data = {"addr": {"type": "inet",
                         "data": {"host": self.host, "port": str(self.port)}},
                "server": self.server}
        if self.server:
            data["wait"] = False
        if self.reconnect_ms:
            data["reconnect-ms"] = self.reconnect_ms
        return {"id": self.id, "backend": {"type": "socket", "data": data}}


@dataclass
class Obj:
    """A QOM object, for -object (arg) or object-add (qmp)."""
    type: str
    id: str
    props: dict

    def arg(self):
        return ["-object", ",".join([self.type, f"id={self.id}"] +
                                    [f"{k}={v}" for k, v in self.props.items()])]

    def qmp(self):
        return {"qom-type": self.type, "id": self.id, **self.props}


# Ports of the colo-compare stack: the primary listens, the secondary
# connects to MIRROR_PORT (client input) and COMPARE_PORT (SVM output)
MIRROR_PORT, COMPARE_PORT = 9003, 9004


def compare_primary_proxy(listen_ip, wait=False):
    """colo-compare with filter-mirror and -redirectors, as COLO-FT.txt
    sets up the primary; the secondary connects to listen_ip (wait: on
    the command line, QEMU starts once it did)."""
    return [Socket("mirror0", listen_ip, MIRROR_PORT, server=True),
            Socket("compare1", listen_ip, COMPARE_PORT, server=True, wait=wait),
            Socket("compare0", "127.0.0.1", 9001, server=True),
            Socket("compare0-0", "127.0.0.1", 9001),
            Socket("compare_out", "127.0.0.1", 9005, server=True),
            Socket("compare_out0", "127.0.0.1", 9005),
            Obj("filter-mirror", "m0", {"netdev": "hn0", "queue": "tx", "outdev": "mirror0"}),
            Obj("filter-redirector", "redire0",
                {"netdev": "hn0", "queue": "rx", "indev": "compare_out"}),
            Obj("filter-redirector", "redire1",
                {"netdev": "hn0", "queue": "rx", "outdev": "compare0"}),
            Obj("iothread", "iothread1", {}),
            Obj("colo-compare", "comp0",
                {"primary_in": "compare0-0", "secondary_in": "compare1",
                 "outdev": "compare_out0", "iothread": "iothread1"})]


def compare_secondary_proxy(primary_ip):
    """The secondary's redirectors (to the primary at primary_ip) and
    filter-rewriter."""
    return [Socket("red0", primary_ip, MIRROR_PORT, reconnect_ms=1000),
            Socket("red1", primary_ip, COMPARE_PORT, reconnect_ms=1000),
            Obj("filter-redirector", "f1", {"netdev": "hn0", "queue": "tx", "indev": "red0"}),
            Obj("filter-redirector", "f2", {"netdev": "hn0", "queue": "rx", "outdev": "red1"}),
            Obj("filter-rewriter", "rew0", {"netdev": "hn0", "queue": "all"})]


def as_args(parts):
    return [arg for part in parts for arg in part.arg()]


def quorum_disk(image):
    """The guest's disk as the primary has it: a quorum over the image, to
    which COLO adds the replication child."""
    return ["-drive", "if=ide,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,"
                      f"children.0.file.filename={image},children.0.driver=qcow2"]


def primary_args(guest, rundir, dirty_kbps=0, net=Net()):
    disk = quorum_disk(f"{rundir}/primary.qcow2") + ["-S"]
    if net.proxy == "nic":
        return common_args("primary", guest, rundir, dirty_kbps, net) + \
            nic.primary_object(net.script) + disk
    return common_args("primary", guest, rundir, dirty_kbps, net) + \
        as_args(compare_primary_proxy(PRIMARY_FT_IP, wait=True)) + disk


def standalone_args(name, guest, rundir, records=False):
    """A guest that runs unprotected from its start (colo-compare stack:
    none yet), with the primary's disk layout: protect.py brings it into
    COLO."""
    return common_args(name, guest, rundir, records=records) + \
        quorum_disk(f"{rundir}/{name}.qcow2")


@dataclass
class SecondaryDisks:
    """The secondary's images: the base (exported over NBD to the
    primary) and the active and hidden overlays of replication."""
    base: str
    active: str
    hidden: str

    @classmethod
    def named(cls, rundir, prefix=""):
        return cls(f"{rundir}/{prefix}secondary.qcow2", f"{rundir}/{prefix}active.qcow2",
                   f"{rundir}/{prefix}hidden.qcow2")

    def args(self):
        return ["-drive", f"if=none,id=parent0,file.filename={self.base},driver=qcow2",
                "-drive", "if=none,id=childs0,driver=replication,mode=secondary,"
                          f"file.driver=qcow2,top-id=colo-disk0,"
                          f"file.file.filename={self.active},"
                          f"file.backing.driver=qcow2,file.backing.file.filename={self.hidden},"
                          "file.backing.backing=parent0",
                "-drive", "if=ide,id=colo-disk0,driver=quorum,read-pattern=fifo,"
                          "vote-threshold=1,children.0=childs0"]


def secondary_args(guest, rundir, dirty_kbps=0, net=Net(), name="secondary",
                   disks=None, primary_ip=PRIMARY_FT_IP, own_ip=SECONDARY_FT_IP,
                   records=False):
    """The secondary waiting for its primary at primary_ip; it listens
    for the migration on own_ip."""
    if net.proxy == "nic":
        proxy = nic.secondary_object(net.script)
    else:
        proxy = as_args(compare_secondary_proxy(primary_ip))
    disks = disks or SecondaryDisks.named(rundir)
    return common_args(name, guest, rundir, dirty_kbps, net, records) + proxy + \
        disks.args() + ["-incoming", f"tcp:{own_ip}:{MIGRATION_PORT}"]


def plain_args(guest, rundir, dirty_kbps=0, net=Net()):
    """An unreplicated guest with the same hardware, for comparisons."""
    return common_args("plain", guest, rundir, dirty_kbps, net) + [
        "-drive", f"if=ide,id=disk0,file={rundir}/plain.qcow2,format=qcow2"]


def create_disks(qemu, rundir, names):
    for name in names:
        qemu_img(qemu, "create", "-q", "-f", "qcow2", f"{rundir}/{name}.qcow2", DISK_SIZE)


class VM:
    """A QEMU process started in a network namespace."""

    def __init__(self, name, qemu, netns, args, rundir):
        self.name = name
        self.rundir = rundir
        self.trace_path = f"{rundir}/{name}-trace.log"
        self.serial_path = f"{rundir}/{name}-serial.log"
        self.qmp_path = f"{rundir}/{name}-qmp.sock"
        self.qmp = None
        self.expected_alive = True
        self._stderr = open(f"{rundir}/{name}-stderr.log", "w")
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, qemu, *args],
                                     stdin=subprocess.DEVNULL, stdout=self._stderr,
                                     stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc.poll() is None

    def connect(self, timeout=60.0):
        self.qmp = QMP(self.qmp_path, self.name, timeout, alive=self.alive)
        return self.qmp

    def serial(self):
        try:
            with open(self.serial_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stderr_tail(self, lines=3):
        self._stderr.flush()
        with open(f"{self.rundir}/{self.name}-stderr.log", errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-lines:])

    def kill(self):
        """SIGKILL, as a dying host would."""
        self.expected_alive = False
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self.qmp:
            self.qmp.close()

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.qmp:
            self.qmp.close()
        self._stderr.close()
