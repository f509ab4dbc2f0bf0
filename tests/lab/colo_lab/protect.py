"""Protecting a guest that runs and writes to its disk: a fresh secondary
for a running primary, the sequence of docs/system/colo.rst ("Protecting
a running guest"). The primary copies its disk to the secondary's NBD
export with a mirror job while the guest runs; the migration stops the
guest and pauses before the switchover (pause-before-switchover); there
the mirror, in sync, ends and replication takes over the writes; COLO
starts when the migration continues. The guest stops for the
migration's downtime and that handover only."""

import time

from . import qemu as q
from .colo import add_replication_child, nbd_export, prepare_secondary, wait_colo
from .topology import LabError

RESYNC_JOB = "resync"
RESYNC_NODE = "resync-target"
DISK = "colo-disk0"


def add_compare_proxy(primary, own_ip):
    """The primary's colo-compare stack, unless it has one (a primary
    whose secondary failed keeps its own). On a survivor that was the
    secondary the filters go in front of its rewriter, which goes on
    translating the connections opened before its failover. False when
    the stack was there."""
    ids = {o["name"] for o in primary.qmp.cmd("qom-list", path="/objects")}
    if "comp0" in ids:
        return False
    for part in q.compare_primary_proxy(own_ip):
        if isinstance(part, q.Socket):
            primary.qmp.cmd("chardev-add", **part.qmp())
            continue
        props = part.qmp()
        if "rew0" in ids and part.type.startswith("filter-"):
            props.update(insert="before", position="id=rew0")
        primary.qmp.cmd("object-add", **props)
    return True


def wait_secondary_connected(primary, timeout=30.0):
    """Until the secondary's redirectors connected to the primary's
    mirror and compare sockets."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chardevs = {c["label"]: c["filename"] for c in primary.qmp.cmd("query-chardev")}
        if all(not chardevs.get(label, "disconnected").startswith("disconnected")
               for label in ("mirror0", "compare1")):
            return
        time.sleep(0.1)
    raise LabError(f"the secondary did not connect to {primary.name}'s proxy "
                   f"within {timeout:.0f} s")


def _job(vm, job_id):
    return next((j for j in vm.qmp.cmd("query-block-jobs") if j["device"] == job_id), None)


def mirror_disk(primary, secondary_ip, timeout=300.0):
    """Copy the running guest's disk to the secondary's export; returns
    once the copy is in sync (the job is ready). Write-blocking: each
    guest write reaches the secondary before it completes, so the copy
    stays in sync until it ends."""
    primary.qmp.cmd("blockdev-add", **{"node-name": RESYNC_NODE, **nbd_export(secondary_ip)})
    primary.qmp.cmd("blockdev-mirror", **{"job-id": RESYNC_JOB, "device": DISK,
                                         "target": RESYNC_NODE, "sync": "full",
                                         "copy-mode": "write-blocking"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(primary, RESYNC_JOB)
        if job is None:
            raise LabError(f"{primary.name}: the disk mirror ended before it was in sync")
        if job["ready"]:
            return job["len"]
        time.sleep(0.2)
    raise LabError(f"{primary.name}: the disk mirror not in sync within {timeout:.0f} s")


def migrate_until_switchover(primary, secondary_ip, period_ms, capability="colo",
                             timeout=300.0):
    """Migrate with COLO and pause-before-switchover; returns once the
    guest is stopped at the switchover."""
    primary.qmp.cmd("migrate-set-capabilities", capabilities=[
        {"capability": capability, "state": True},
        {"capability": "pause-before-switchover", "state": True},
        {"capability": "events", "state": True}])
    period = "colo-checkpoint-period" if capability == "colo" else "x-checkpoint-delay"
    primary.qmp.cmd("migrate-set-parameters", **{period: period_ms})
    primary.qmp.cmd("migrate", uri=f"tcp:{secondary_ip}:{q.MIGRATION_PORT}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = primary.qmp.cmd("query-migrate").get("status")
        if status == "pre-switchover":
            return
        if status in ("failed", "cancelled"):
            raise LabError(f"migration to the secondary {status}: {primary.stderr_tail()}")
        time.sleep(0.01)
    raise LabError(f"the migration did not reach the switchover in {timeout:.0f} s")


def hand_over_to_replication(primary, timeout=60.0):
    """At the switchover (guest stopped): end the mirror in sync, drop its
    target, let the migration go on into COLO."""
    primary.qmp.cmd("block-job-cancel", device=RESYNC_JOB)
    deadline = time.monotonic() + timeout
    while _job(primary, RESYNC_JOB) is not None:
        if time.monotonic() > deadline:
            raise LabError(f"{primary.name}: the disk mirror did not end in {timeout:.0f} s")
        time.sleep(0.01)
    done = [ev for _, ev in primary.qmp.events if ev["event"] == "BLOCK_JOB_COMPLETED" and
            ev["data"].get("device") == RESYNC_JOB]
    if not done or "error" in done[-1]["data"]:
        raise LabError(f"{primary.name}: the disk mirror did not complete in sync: "
                       f"{done[-1]['data'] if done else 'no BLOCK_JOB_COMPLETED'}")
    primary.qmp.cmd("blockdev-del", **{"node-name": RESYNC_NODE})
    primary.qmp.cmd("migrate-continue", state="pre-switchover")


def _wait_running(vm, timeout=60.0):
    deadline = time.monotonic() + timeout
    while vm.qmp.cmd("query-status")["status"] != "running":
        if time.monotonic() > deadline:
            raise LabError(f"{vm.name}'s guest not running {timeout:.0f} s after COLO started")
        time.sleep(0.01)


def _event_time(ev):
    return ev["timestamp"]["seconds"] + ev["timestamp"]["microseconds"] / 1e6


def guest_pause_ms(vm, since):
    """How long the protection stopped vm's guest: its first STOP at or
    after since (the switchover; checkpoints come later) to the RESUME
    after it (QEMU's own event times), ms."""
    stop = None
    for _, ev in vm.qmp.events:
        t = _event_time(ev)
        if t < since:
            continue
        if ev["event"] == "STOP" and stop is None:
            stop = t
        elif ev["event"] == "RESUME" and stop is not None:
            return round((t - stop) * 1000, 1)
    raise LabError(f"{vm.name}: no STOP and RESUME of the guest since the protection began")


def pause_phases_ms(vm, since):
    """The guest's stop at the switchover in phases, from vm's STOP and
    MIGRATION events since since, ms: "stop" (the stop itself, which
    drains and flushes the disks), "handover" (waiting at
    pre-switchover for management: the mirror's end, migrate-continue),
    "switchover" (the last RAM and devices, COLO's start, to RESUME)."""
    marks = {}
    for _, ev in vm.qmp.events:
        t = _event_time(ev)
        if t < since:
            continue
        name, status = ev["event"], ev.get("data", {}).get("status")
        if name == "STOP":
            marks.setdefault("stop", t)
        elif name == "MIGRATION" and status == "pre-switchover":
            marks.setdefault("pre", t)
        elif name == "MIGRATION" and "pre" in marks:
            marks.setdefault("continued", t)
        elif name == "RESUME" and "stop" in marks:
            marks.setdefault("resume", t)
    if len(marks) != 4:
        raise LabError(f"{vm.name}: the switchover's STOP, pre-switchover, its end and "
                       f"RESUME not all seen since the protection began ({sorted(marks)})")
    return {"stop": round((marks["pre"] - marks["stop"]) * 1000, 1),
            "handover": round((marks["continued"] - marks["pre"]) * 1000, 1),
            "switchover": round((marks["resume"] - marks["continued"]) * 1000, 1)}


def protect(primary, secondary, primary_ip, secondary_ip, period_ms, log):
    """Bring the running primary into COLO with the new secondary (started
    with -incoming, waiting). log(text) is told each step. Returns the
    figures: disk bytes mirrored, seconds each phase took, guest pause."""
    t0 = time.time()
    prepare_secondary(secondary, secondary_ip)
    added = add_compare_proxy(primary, primary_ip)
    wait_secondary_connected(primary)
    log(f"{secondary.name} waits for the migration; {primary.name}'s colo-compare stack "
        f"{'added' if added else 'kept from its last COLO'}, the secondary connected to it")
    # Before the mirror: its filter node would take the blockdev-child-add.
    # The child's writes fail until COLO starts replication, which the
    # quorum (vote-threshold=1) tolerates; the mirror copies them.
    add_replication_child(primary, secondary_ip)
    size = mirror_disk(primary, secondary_ip)
    t_sync = time.time()
    log(f"{primary.name}'s disk ({size >> 20} MiB) mirrored to {secondary.name} "
        f"in {t_sync - t0:.1f} s, in sync while the guest writes")
    migrate_until_switchover(primary, secondary_ip, period_ms)
    t_switch = time.time()
    log(f"RAM migrated in {t_switch - t_sync:.1f} s; guest stopped at the switchover")
    hand_over_to_replication(primary)
    wait_colo(primary, secondary)
    _wait_running(primary)
    pause = guest_pause_ms(primary, t0)
    phases = pause_phases_ms(primary, t0)
    log(f"COLO running; the mirror handed over to replication, the guest stopped {pause} ms "
        f"({phases})")
    return {"disk_bytes": size, "mirror_s": round(t_sync - t0, 2),
            "migration_s": round(t_switch - t_sync, 2), "pause_ms": pause,
            "pause_phases_ms": phases,
            "downtime_limit_ms": primary.qmp.cmd("query-migrate-parameters")["downtime-limit"]}

