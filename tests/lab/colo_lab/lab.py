"""The Lab: one run's namespaces, QEMU processes, client and logs. Used as
a context manager, it removes everything it created, also on failure,
SIGTERM and Ctrl-C."""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

from . import nic
from . import qemu as q
from .report import CheckpointFollower
from .topology import GUEST_IP, GUEST_IP6, Topology, LabError, preflight, remove_stale_namespaces

LAB_DIR = q.LAB_DIR
GUEST_URL = f"http://{GUEST_IP}"
GUEST_URL6 = f"http://[{GUEST_IP6}]"


def _raise_on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


class Workload:
    """The client in the client namespace; its records arrive in a thread."""

    def __init__(self, netns, first_id=1, timeout=10.0, give_up=60.0):
        self.records = []
        self._lock = threading.Lock()
        env = dict(os.environ, PYTHONPATH=LAB_DIR)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-m", "colo_lab.client",
             GUEST_URL, "--first-id", str(first_id), "--timeout", str(timeout),
             "--give-up", str(give_up)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.records.append(json.loads(line))

    def answered(self, since=0.0):
        with self._lock:
            return sum(1 for r in self.records if r.get("answered", 0) > since)

    def records_so_far(self):
        """A copy of the records that arrived until now."""
        with self._lock:
            return list(self.records)

    def stop(self, timeout=90.0):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        with self._lock:
            return list(self.records)


class Lab:
    def __init__(self, scenario, qemu, guest, results_dir, verbose=True, net=None):
        self.scenario = scenario
        self.qemu = qemu
        self.guest = guest
        self.net = net or q.Net()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.rundir = os.path.join(results_dir, f"{scenario}-{stamp}-{os.getpid()}")
        self.topology = Topology(forward=self.net.proxy == "nic")
        self.vms = {}
        self._followers = {}
        self.workloads = []
        self.cleanups = []  # callables run at exit, the last added first
        self.timeline = []
        self.verbose = verbose
        self.t0 = time.time()

    # --- life cycle -------------------------------------------------------

    def __enter__(self):
        self._old_sigterm = signal.signal(signal.SIGTERM, _raise_on_sigterm)
        # Ctrl-C cleans up too, even where SIGINT was inherited as ignored.
        self._old_sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
        os.makedirs(self.rundir, exist_ok=True)
        if not os.access(self.qemu, os.X_OK):
            raise LabError(f"no QEMU binary at {self.qemu}: run 'make qemu'")
        q.check_firmware()
        if self.net.proxy == "nic":
            nic.check(self.qemu, self.net.script)
        remove_stale_namespaces()
        preflight()
        self.topology.create()
        return self

    def __exit__(self, *exc):
        if exc[1] is not None and "timed out" in str(exc[1]):
            self.dump_stacks()
        for w in self.workloads:
            w.stop(timeout=5)
        for vm in self.vms.values():
            self._save_qmp_events(vm)
            vm.stop()
        for cleanup in reversed(self.cleanups):
            cleanup()
        for ns in self.topology.namespaces:
            nic.remove_state(ns)
        self.topology.remove()
        signal.signal(signal.SIGTERM, self._old_sigterm)
        signal.signal(signal.SIGINT, self._old_sigint)
        return False

    def dump_stacks(self):
        """Every thread's backtrace of each running QEMU into
        <name>-stacks.txt (gdb), for a monitor that stopped answering."""
        if not shutil.which("gdb"):
            return
        for vm in self.vms.values():
            if not vm.alive():
                continue
            path = os.path.join(self.rundir, f"{vm.name}-stacks.txt")
            with open(path, "w") as f:
                try:
                    subprocess.run(["gdb", "-batch", "-p", str(vm.proc.pid),
                                    "-ex", "thread apply all bt"],
                                   stdout=f, stderr=subprocess.STDOUT, timeout=120)
                except subprocess.TimeoutExpired:
                    f.write("gdb: no backtrace within 120 s\n")
            if self.verbose:
                print(f"lab: {vm.name}'s threads in {path}", file=sys.stderr)

    def _save_qmp_events(self, vm):
        if vm.qmp is None:
            return
        with open(os.path.join(self.rundir, f"{vm.name}-qmp-events.json"), "w") as f:
            json.dump([{"host_time": t, **ev} for t, ev in vm.qmp.events], f, indent=1)

    def event(self, text, at=None):
        """A step of the run for the timeline; at: when it happened, if
        that was before now (host wall clock)."""
        t = time.time() if at is None else at
        self.timeline.append((t, text))
        if self.verbose:
            print(f"[{t - self.t0:7.2f}s] {text}", file=sys.stderr, flush=True)

    # --- guests -----------------------------------------------------------

    def start_pair(self, period_ms, capability="x-colo", dirty_kbps=0, params=None,
                   secondary_extra=()):
        """Start both QEMUs and COLO between them. params: migration
        parameters set on both sides before COLO starts (e.g.
        colo-peer-timeout, which each side applies to its own waits);
        secondary_extra: more arguments for the secondary's QEMU."""
        from .colo import start_colo, wait_colo
        q.create_disks(self.qemu, self.rundir, ("primary", "active", "hidden"))
        shutil.copy(f"{self.rundir}/primary.qcow2", f"{self.rundir}/secondary.qcow2")
        topo = self.topology
        self.vms["primary"] = q.VM(
            "primary", self.qemu, topo.primary,
            q.primary_args(self.guest, self.rundir, dirty_kbps, self.net), self.rundir)
        self.vms["secondary"] = q.VM(
            "secondary", self.qemu, topo.secondary,
            q.secondary_args(self.guest, self.rundir, dirty_kbps, self.net)
            + list(secondary_extra), self.rundir)
        primary, secondary = self.vms["primary"], self.vms["secondary"]
        secondary.connect()
        primary.connect()
        self.event("primary and secondary QEMU started")
        if params:
            for vm in (secondary, primary):
                vm.qmp.cmd("migrate-set-parameters", **params)
        start_colo(primary, secondary, period_ms, capability)
        wait_colo(primary, secondary)
        self.event(f"COLO running ({capability}, {self.net.proxy} proxy, "
                   f"checkpoint period {period_ms} ms)")
        return primary, secondary

    def start_vm(self, name, netns, args):
        """Start a QEMU called name in netns and connect to its monitor."""
        vm = q.VM(name, self.qemu, netns, args, self.rundir)
        self.vms[name] = vm
        vm.connect()
        return vm

    def start_plain(self, dirty_kbps=0):
        q.create_disks(self.qemu, self.rundir, ("plain",))
        vm = q.VM("plain", self.qemu, self.topology.primary,
                  q.plain_args(self.guest, self.rundir, dirty_kbps, self.net), self.rundir)
        self.vms["plain"] = vm
        vm.connect()
        self.event("unreplicated guest started")
        return vm

    def wait_guest_ready(self, vm, timeout=180.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            serial = vm.serial()
            if "COLO-GUEST-ERROR" in serial:
                line = serial.split("COLO-GUEST-ERROR", 1)[1].splitlines()[0]
                raise LabError(f"guest on {vm.name} reports an error:{line}")
            if "COLO-GUEST-READY" in serial:
                self.event(f"guest ready on {vm.name}")
                return
            if not vm.alive():
                raise LabError(f"{vm.name} exited: {vm.stderr_tail()}")
            time.sleep(0.2)
        raise LabError(f"guest on {vm.name} not ready after {timeout:.0f} s")

    # --- client -------------------------------------------------------------

    def client(self, *args, timeout=10.0, limit=120.0, url=GUEST_URL):
        """Run the client once in the client namespace, asking url; its
        stdout."""
        env = dict(os.environ, PYTHONPATH=LAB_DIR)
        try:
            proc = subprocess.run(
                ["ip", "netns", "exec", self.topology.client, sys.executable, "-m",
                 "colo_lab.client", url, "--timeout", str(timeout), *args],
                capture_output=True, text=True, env=env, timeout=limit)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"client {' '.join(args)}: no result in {limit:.0f} s") from exc
        if proc.returncode != 0:
            raise LabError(f"client {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def client_get(self, path, timeout=10.0, ipv6=False):
        return self.client("--get", path, timeout=timeout, limit=timeout + 30,
                           url=GUEST_URL6 if ipv6 else GUEST_URL)

    def ping(self, count=20, interval=0.2):
        """Median ICMP round trip from the client to the guest, ms; one
        packet first, so that ARP is not measured."""
        cmd = ["ip", "netns", "exec", self.topology.client, "ping", "-n", "-W", "2",
               "-i", str(interval), GUEST_IP]
        subprocess.run(cmd + ["-c", "1"], capture_output=True, timeout=30)
        proc = subprocess.run(cmd + ["-c", str(count)], capture_output=True, text=True,
                              timeout=count * (interval + 2) + 30)
        rtts = [float(m) for m in re.findall(r"time=([0-9.]+) ms", proc.stdout)]
        if not rtts:
            raise LabError(f"ping: no reply ({proc.stdout.strip().splitlines()[-1:]})")
        return statistics.median(rtts)

    def start_workload(self, **kw):
        w = Workload(self.topology.client, **kw)
        self.workloads.append(w)
        return w

    # --- progress -------------------------------------------------------------

    def checkpoints(self, vm_name="primary"):
        """Checkpoints completed so far, from the VM's trace events."""
        if vm_name not in self._followers:
            self._followers[vm_name] = CheckpointFollower(self.vms[vm_name].trace_path)
        return self._followers[vm_name].update()

    def wait_until(self, what, cond, timeout, stall=None, progress=None):
        """Poll cond() until true. With stall and progress, fail when
        progress() has not changed for stall seconds."""
        deadline = time.monotonic() + timeout
        last, last_change = None, time.monotonic()
        while not cond():
            now = time.monotonic()
            if progress is not None:
                cur = progress()
                if cur != last:
                    last, last_change = cur, now
                elif stall and now - last_change > stall:
                    raise LabError(f"{what}: no progress for {stall:.0f} s (stuck at {cur})")
            if now > deadline:
                raise LabError(f"{what}: not reached within {timeout:.0f} s")
            for vm in self.vms.values():
                if vm.expected_alive and not vm.alive():
                    raise LabError(f"{vm.name} exited: {vm.stderr_tail()}")
            time.sleep(0.1)
