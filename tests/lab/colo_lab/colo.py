"""Bringing a COLO pair up and failing over, as docs/COLO-FT.txt does it."""

import time

from .qemu import MIGRATION_PORT, NBD_PORT
from .qmp import QMPError
from .topology import SECONDARY_FT_IP, LabError


def nbd_export(ip):
    """The secondary's export of its base image at ip, as a block node."""
    return {"driver": "nbd", "export": "parent0",
            "server": {"type": "inet", "host": ip, "port": str(NBD_PORT)}}


def prepare_secondary(secondary, own_ip, capability="colo"):
    """The secondary waits for the migration with COLO on and exports its
    base image for the primary's replication (and mirror)."""
    secondary.qmp.cmd("migrate-set-capabilities",
                      capabilities=[{"capability": capability, "state": True}])
    secondary.qmp.cmd("nbd-server-start", addr={
        "type": "inet", "data": {"host": own_ip, "port": str(NBD_PORT)}})
    secondary.qmp.cmd("nbd-server-add", device="parent0", writable=True)


def add_replication_child(primary, secondary_ip):
    """replication (mode=primary) over NBD as the new child of the
    primary's quorum."""
    primary.qmp.cmd("blockdev-add", **{"node-name": "replication0", "driver": "replication",
                                       "mode": "primary", "file": nbd_export(secondary_ip)})
    if primary.qmp.has_command("blockdev-child-add"):
        primary.qmp.cmd("blockdev-child-add", parent="colo-disk0", node="replication0")
    else:
        # upstream, for the reference column of the bench
        primary.qmp.cmd("x-blockdev-change", parent="colo-disk0", node="replication0")


def remove_replication_child(primary, timeout):
    """The primary's quorum loses its replication child, which is deleted."""
    if primary.qmp.has_command("blockdev-child-del"):
        primary.qmp.cmd("blockdev-child-del", timeout=timeout, parent="colo-disk0",
                        node="replication0")
        primary.qmp.cmd("blockdev-del", timeout=timeout, **{"node-name": "replication0"})
        return
    primary.qmp.cmd("x-blockdev-change", timeout=timeout, parent="colo-disk0",
                    child="children.1")
    primary.qmp.hmp("drive_del replication0", timeout=timeout)


def start_colo(primary, secondary, period_ms, capability="x-colo"):
    """Secondary first (capability, NBD export), then the primary
    (replication child, capability, checkpoint period, migrate)."""
    prepare_secondary(secondary, SECONDARY_FT_IP, capability)
    add_replication_child(primary, SECONDARY_FT_IP)
    primary.qmp.cmd("migrate-set-capabilities",
                    capabilities=[{"capability": capability, "state": True}])
    set_period(primary, period_ms, capability)
    primary.qmp.cmd("migrate", uri=f"tcp:{SECONDARY_FT_IP}:{MIGRATION_PORT}")


def set_period(primary, period_ms, capability="x-colo"):
    """The primary's checkpoint period; by its stable name where the
    capability is, upstream knows only the old one."""
    period = "colo-checkpoint-period" if capability == "colo" else "x-checkpoint-delay"
    primary.qmp.cmd("migrate-set-parameters", **{period: period_ms})


def wait_colo(primary, secondary, timeout=120.0):
    """Wait until both sides report COLO mode."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for vm in (primary, secondary):
            if not vm.alive():
                raise LabError(f"{vm.name} exited while COLO was starting: {vm.stderr_tail()}")
        status = primary.qmp.cmd("query-migrate").get("status")
        if status in ("failed", "cancelled"):
            raise LabError(f"migration to the secondary {status}: {primary.stderr_tail()}")
        if (primary.qmp.cmd("query-colo-status")["mode"] == "primary" and
                secondary.qmp.cmd("query-colo-status")["mode"] == "secondary"):
            return
        time.sleep(0.1)
    raise LabError(f"COLO did not start within {timeout:.0f} s")


def failover(vm):
    """colo-failover (x-colo-lost-heartbeat where the QEMU has no stable
    name). A primary whose secondary died has already ended COLO on its
    own, and says it is no longer in COLO mode."""
    try:
        vm.qmp.cmd("colo-failover")
        return "requested"
    except QMPError as exc:
        if "not in COLO mode" in str(exc):
            return "automatic"
        if "has not been found" not in str(exc):
            raise
    vm.qmp.cmd("x-colo-lost-heartbeat")
    return "requested"


def wait_peer_lost(vm, timeout=30.0):
    """Wait until the secondary reports the loss of its primary and waits
    for management (query-colo-status "peer-lost"); False on a QEMU that
    has no such report."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = vm.qmp.cmd("query-colo-status")
        if "peer-lost" not in status:
            return False
        if status["peer-lost"]:
            return True
        time.sleep(0.01)
    raise LabError(f"{vm.name} did not report the loss of its peer within {timeout:.0f} s")


def guest_running(vm):
    return vm.qmp.cmd("query-status")["status"] == "running"


def event_time(ev):
    """QEMU's own timestamp of a QMP event (host wall clock, seconds)."""
    ts = ev["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


def events(vm, name, mode=None, since=0.0):
    """vm's QMP events called name (with data.mode == mode when given)
    at or after since, oldest first. Only events that arrived with an
    answer to a command are known: ask something first."""
    return [ev for _, ev in vm.qmp.events
            if ev["event"] == name and event_time(ev) >= since and
            (mode is None or ev.get("data", {}).get("mode") == mode)]


def _quiet(text, at=None):
    pass


def failover_on_secondary(secondary, primary, proxy="compare", log=_quiet, since=None):
    """The primary died: management's part (docs/system/colo.rst). The
    secondary reports the loss and waits with its guest paused; the
    primary is confirmed gone (the lab's fencing), then colo-failover
    makes the secondary take over (COLO-FT.txt, 'Secondary Failover').
    The filter-rewriter stays, for the connections opened before the
    failover. colo-nic needs no object-del: QEMU runs its script's
    failover (the SVM's tap back on the LAN bridge) and keeps rewriting.
    log(text, at=None) is told each step (at: when it happened, when
    earlier); since: the time of the fault, to which the loss report is
    timed."""
    since = time.time() if since is None else since
    if wait_peer_lost(secondary):
        lost = events(secondary, "COLO_PEER_LOST", "secondary", since - 1)
        t_lost = event_time(lost[0]) if lost else time.time()
        state = secondary.qmp.cmd("query-status")["status"]
        log(f"the secondary reports the loss of its primary {t_lost - since:.2f} s after "
            f"the fault (COLO_PEER_LOST, peer-lost true) and waits, its guest "
            f"{'RUNNING' if state == 'running' else 'stopped'} (run state {state})", at=t_lost)
        if state == "running":
            raise LabError("the secondary runs its guest before colo-failover")
    else:
        log("the secondary has no peer-lost report (an older QEMU)")
    if primary.alive():
        raise LabError("the primary is still alive: refusing to fail over")
    log("fencing check: the primary's QEMU is gone")
    secondary.qmp.cmd("nbd-server-stop")
    how = failover(secondary)
    log(f"colo-failover sent to the secondary ({how})")
    if proxy == "nic":
        return how
    for obj in ("f2", "f1"):
        secondary.qmp.cmd("object-del", id=obj)
    for chardev in ("red1", "red0"):
        secondary.qmp.cmd("chardev-remove", id=chardev)
    return how


def failover_on_primary(primary, proxy="compare", timeout=120.0):
    """The secondary died: the primary goes on alone (COLO-FT.txt,
    'Primary Failover'). The proxy objects stay: on failover colo-compare
    releases what it holds and passes the PVM's output on uncompared, and
    QEMU runs colo-nic's script, which stops the mirroring and queueing.
    timeout: for each monitor command."""
    remove_replication_child(primary, timeout)
    return failover(primary)


def fail_over_survivor(survivor, victim, victim_vm, proxy, log=_quiet, since=None):
    """Management's failover on the survivor after victim ('primary' or
    'secondary') was killed; waits until COLO ended there. Returns (how,
    the survivor's run state)."""
    if victim == "primary":
        how = failover_on_secondary(survivor, victim_vm, proxy, log=log, since=since)
    else:
        how = failover_on_primary(survivor, proxy)
    return how, wait_colo_ended(survivor)


def wait_colo_ended(vm, timeout=30.0):
    """Wait until COLO ended and the survivor resumed its guest (a moment
    later); return the guest's run state at the end of the wait."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        try:
            if vm.qmp.cmd("query-colo-status")["mode"] == "none":
                state = vm.qmp.cmd("query-status")["status"]
                if state == "running":
                    return state
        except QMPError as exc:
            raise LabError(f"{vm.name} after failover: {exc}") from exc
        time.sleep(0.05)
    if state is not None:
        return state
    raise LabError(f"{vm.name} still in COLO mode {timeout:.0f} s after failover")
