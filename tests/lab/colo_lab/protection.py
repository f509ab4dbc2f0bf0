"""Protecting a running, writing guest and protecting the survivor of a
failover again (protect.py), with colo-compare. Each returns (summary,
failures) like the scenarios in scenarios.py.

The guest boots once, unprotected, and writes numbered records to its
disk all along (colo.records=1); clients send requests all along. The
two hosts take turns: a new secondary QEMU, with blank images, starts on
the host that has no guest, is brought in while the guest runs, and one
side is killed; the survivor serves on and is protected again. After
each failover the survivor's disk must hold every record its guest
counts as written, and at least as many as a client saw counted before
the kill.
"""

import time
from dataclasses import dataclass

from . import colo, protect
from . import qemu as q
from .report import check_requests, first_answer_after, request_summary
from .topology import PRIMARY_FT_IP, SECONDARY_FT_IP, LabError

RECORDS_BEFORE_PROTECTION = 20
CHECKPOINTS_PER_CYCLE = 3
REQUESTS_AFTER_FAILOVER = 5


@dataclass
class Host:
    netns: str
    ft_ip: str


def _hosts(lab):
    return (Host(lab.topology.primary, PRIMARY_FT_IP),
            Host(lab.topology.secondary, SECONDARY_FT_IP))


def start_guest(lab, name, host):
    """The guest, booted unprotected, writing records."""
    q.create_disks(lab.qemu, lab.rundir, (name,))
    vm = lab.start_vm(name, host.netns, q.standalone_args(name, lab.guest, lab.rundir,
                                                          records=True))
    lab.event(f"guest started unprotected as {name}")
    return vm


def start_secondary(lab, name, host, primary_host):
    """A new secondary with blank images, waiting for the primary."""
    disks = q.SecondaryDisks.named(lab.rundir, f"{name}-")
    q.create_disks(lab.qemu, lab.rundir,
                   [f"{name}-secondary", f"{name}-active", f"{name}-hidden"])
    return lab.start_vm(name, host.netns, q.secondary_args(
        lab.guest, lab.rundir, name=name, disks=disks, primary_ip=primary_host.ft_ip,
        own_ip=host.ft_ip, records=True))


def read_records(lab):
    """The guest's view of its records: written, present, first_gap, misplaced."""
    text = lab.client_get("/cgi-bin/records")
    try:
        return {k: int(v) for k, v in (f.split("=") for f in text.split())}
    except ValueError as exc:
        raise LabError(f"/cgi-bin/records answered {text!r}") from exc


def _wait_records(lab, count, timeout=120.0):
    deadline = time.monotonic() + timeout
    while (rec := read_records(lab))["written"] < count:
        if time.monotonic() > deadline:
            raise LabError(f"the guest wrote {rec['written']} records in {timeout:.0f} s, "
                           f"not {count}")
        time.sleep(1)
    return rec


def check_records(where, rec, seen_before, failures):
    """Every record the guest counts is on its disk, in place, and the
    guest counts at least what a client saw counted earlier."""
    if rec["first_gap"] or rec["present"] != rec["written"] or rec["misplaced"]:
        failures.append(f"{where}: disk records {rec}")
    if rec["written"] < seen_before:
        failures.append(f"{where}: the guest counts {rec['written']} records, "
                        f"a client saw {seen_before} before")


def _protect(lab, opts, primary, primary_host, name, host):
    secondary = start_secondary(lab, name, host, primary_host)
    figures = protect.protect(primary, secondary, primary_host.ft_ip, host.ft_ip,
                              opts.period, lab.event)
    return secondary, figures


def _checkpoints_under_load(lab, primary, work, count, period_ms):
    start = lab.checkpoints(primary.name)
    answered = work.answered()
    lab.wait_until(f"{count} checkpoints under load",
                   lambda: lab.checkpoints(primary.name) >= start + count and
                   work.answered() > answered,
                   timeout=count * period_ms / 1000 * 4 + 60, stall=30,
                   progress=lambda: (lab.checkpoints(primary.name), work.answered()))


def _kill_and_fail_over(lab, work, victim, victim_role, survivor):
    t_kill = time.time()
    victim.kill()
    lab.event(f"{victim_role} {victim.name} killed (SIGKILL)", at=t_kill)
    how, state = colo.fail_over_survivor(survivor, victim_role, victim, "compare",
                                         log=lab.event, since=t_kill)
    if state != "running":
        raise LabError(f"the survivor {survivor.name} is {state} after the failover")
    lab.wait_until("requests after the failover",
                   lambda: work.answered(since=t_kill) >= REQUESTS_AFTER_FAILOVER,
                   timeout=120, stall=60, progress=lambda: work.answered(since=t_kill))
    first = first_answer_after(work.records_so_far(), t_kill)
    lab.event(f"{survivor.name} serves alone ({how} failover); first request "
              f"{first:.2f} s after the kill")
    return first


def _summary(lab, name, records, failures):
    summary = {"scenario": name, "rundir": lab.rundir, "requests": request_summary(records)}
    check_requests(summary, failures)
    boots = [vm.name for vm in lab.vms.values() if "COLO-GUEST-READY" in vm.serial()]
    summary["guest_boots"] = len(boots)
    if len(boots) != 1:
        failures.append(f"the guest booted {len(boots)} times ({boots})")
    return summary


def _pause_check(figures, limit_ms, failures):
    """The switchover proper (the last RAM and devices, COLO's start)
    and the handover at pre-switchover (the mirror's end: a disk copied
    with the guest stopped would show there) each stop the guest no
    longer than a migration may (downtime-limit), unless the run sets
    another limit. The stop before them, which drains and flushes the
    disks, is paid by every migration: it depends on the host's disk and
    load, and is reported, not held to the limit."""
    limit_ms = limit_ms or figures["downtime_limit_ms"]
    for phase in ("handover", "switchover"):
        took = figures["pause_phases_ms"][phase]
        if took > limit_ms:
            failures.append(f"protection stopped the guest {figures['pause_ms']} ms, "
                            f"{took} ms of it in the {phase} (limit {limit_ms} ms)")


def protect_running(lab, opts):
    """A running guest that writes its disk is protected, checkpointed,
    its primary killed: the survivor holds every record."""
    a, b = _hosts(lab)
    primary = start_guest(lab, "primary", a)
    lab.wait_guest_ready(primary)
    work = lab.start_workload()
    rec = _wait_records(lab, RECORDS_BEFORE_PROTECTION)
    lab.event(f"the guest wrote {rec['written']} records unprotected")
    secondary, figures = _protect(lab, opts, primary, a, "secondary", b)
    _checkpoints_under_load(lab, primary, work, CHECKPOINTS_PER_CYCLE, opts.period)
    before = read_records(lab)
    lab.event(f"{lab.checkpoints()} checkpoints; the guest counts {before['written']} records")
    first = _kill_and_fail_over(lab, work, primary, "primary", secondary)
    after = read_records(lab)
    lab.event(f"the survivor counts {after['written']} records, {after['present']} on its disk")
    failures = []
    check_records("after the protection", before, rec["written"], failures)
    check_records("the survivor", after, before["written"], failures)
    _pause_check(figures, opts.max_pause_ms, failures)
    summary = _summary(lab, lab.scenario, work.stop(), failures)
    summary.update(protection=figures, records={"before_kill": before, "survivor": after},
                   failover_gap_s=round(first, 3))
    return summary, failures


def reprotect_cycles(lab, opts):
    """opts.cycles failovers, the victim alternating (the primary, then
    the new secondary, ...), the survivor protected again by a new
    secondary on the other host each time."""
    hosts = _hosts(lab)
    primary, p_host = start_guest(lab, "g0", hosts[0]), hosts[0]
    lab.wait_guest_ready(primary)
    work = lab.start_workload()
    seen = _wait_records(lab, RECORDS_BEFORE_PROTECTION)["written"]
    failures, cycles = [], []
    for cycle in range(1, opts.cycles + 1):
        s_host = hosts[1] if p_host is hosts[0] else hosts[0]
        secondary, figures = _protect(lab, opts, primary, p_host, f"g{cycle}", s_host)
        _pause_check(figures, opts.max_pause_ms, failures)
        _checkpoints_under_load(lab, primary, work, CHECKPOINTS_PER_CYCLE, opts.period)
        before = read_records(lab)
        check_records(f"cycle {cycle}, protected", before, seen, failures)
        if cycle % 2:
            victim, role, survivor = primary, "primary", secondary
            p_host = s_host
        else:
            victim, role, survivor = secondary, "secondary", primary
        first = _kill_and_fail_over(lab, work, victim, role, survivor)
        after = read_records(lab)
        check_records(f"cycle {cycle}, survivor", after, before["written"], failures)
        seen, primary = after["written"], survivor
        cycles.append({"killed": role, "protection": figures, "records": after["written"],
                       "failover_gap_s": round(first, 3)})
        lab.event(f"cycle {cycle}: {role} killed, {survivor.name} serves with "
                  f"{after['written']} records intact")
    summary = _summary(lab, lab.scenario, work.stop(), failures)
    pauses = [c["protection"]["pause_ms"] for c in cycles]
    switchovers = [c["protection"]["pause_phases_ms"]["switchover"] for c in cycles]
    summary.update(cycles=cycles, pause_ms_max=max(pauses, default=None),
                   switchover_ms_max=max(switchovers, default=None))
    return summary, failures


SCENARIOS = {"protect-running": protect_running, "reprotect-cycles": reprotect_cycles}
