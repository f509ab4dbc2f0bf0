"""Fault scenarios: the hosts' link cut, a frozen primary, COLO ended on
purpose (migrate_cancel, colo-failover on the primary) and checkpoints
large enough to take longer than colo-peer-timeout. Each returns
(summary, failures) like the scenarios in scenarios.py.

The lab plays management as docs/system/colo.rst describes it: when the
primary ends COLO (it lost its secondary, or was told to), it gets the
primary's part of a failover (colo.failover_on_primary: the replication
child removed); when the secondary reports the loss of its primary, it
is told to take over only if the primary is gone (the lab's fencing),
which it never is here. After every fault at most one copy of the guest
may be live (liveness.py). A monitor that stops answering ends the
scenario with a failure and every QEMU thread's backtrace.
"""

import os
import signal
import time

from . import colo, liveness
from .report import check_requests, first_answer_after, phase_medians, request_summary
from .qmp import QMPError
from .topology import LabError, run

PEER_TIMEOUT_MS = 2000            # the fault scenarios' colo-peer-timeout
LARGE_PEER_TIMEOUT_MS = 1000      # large-checkpoints': shorter than a checkpoint
LARGE_DIRTY_KBPS = 200000         # what the guest's dirtier is asked for
LARGE_DURATION_S = 60
# The secondary's wait before each load, x colo-peer-timeout: more than
# twice, since a deadline that any byte moved pushes back can take up to
# twice the timeout to expire
LOAD_DELAY_FACTOR = 2.5
HELD_OUTPUT_WINDOW_S = 5.0        # how long to look for served requests before cleanup
FT_LINK = "ft0"
QMP_TIMEOUT_S = 30                # a monitor this slow is stuck
UNSETTLED_MIGRATION = ("setup", "active", "colo", "cancelling", "device", "pre-switchover")
STAT_KEYS = ("checkpoints", "periodic", "mismatch", "request", "other", "pause-last-us",
             "pause-mean-us", "pause-max-us", "ram-bytes-last", "ram-bytes-total",
             "device-bytes-total", "mismatches", "failovers")


# --- pure logic -------------------------------------------------------------


def secondary_outcome(colo_status, run_status, peer_lost_reported):
    """What a secondary did once its primary ended COLO on purpose:
    'stood-down' (COLO ended on request, guest paused, no loss reported),
    'waiting' (reports the loss of its primary, guest not running),
    'running' (its guest runs: two copies may serve), 'in-colo' (has not
    noticed yet) or a description of anything else."""
    if run_status == "running":
        return "running"
    mode = colo_status.get("mode")
    if (mode == "none" and colo_status.get("last-mode") == "secondary" and
            colo_status.get("reason") == "request" and not peer_lost_reported):
        return "stood-down" if run_status == "paused" else f"stood-down, guest {run_status}"
    if mode == "secondary":
        return "waiting" if colo_status.get("peer-lost") else "in-colo"
    return (f"mode {mode}, last-mode {colo_status.get('last-mode')}, reason "
            f"{colo_status.get('reason')}, guest {run_status}, "
            f"peer loss {'reported' if peer_lost_reported else 'not reported'}")


ACCEPTED_OUTCOMES = ("stood-down", "waiting")


def largest_checkpoint(samples):
    """The largest checkpoint's RAM bytes that samples of the primary's
    stats show: ram-bytes-last of each sample, and the growth of
    ram-bytes-total between two samples one checkpoint apart."""
    best = max((s["ram-bytes-last"] for s in samples), default=0)
    for a, b in zip(samples, samples[1:]):
        if b["checkpoints"] - a["checkpoints"] == 1:
            best = max(best, b["ram-bytes-total"] - a["ram-bytes-total"])
    return best


def longest_stall(samples, t_end):
    """Longest time in samples [(t, checkpoints)] without a new checkpoint,
    up to t_end."""
    if not samples:
        return None
    longest, last_t, last_n = 0.0, samples[0][0], samples[0][1]
    for t, n in samples[1:]:
        if n != last_n:
            longest = max(longest, t - last_t)
            last_t, last_n = t, n
    return max(longest, t_end - last_t)


# --- steps --------------------------------------------------------------------


def _peer_timeout(opts, default):
    return getattr(opts, "peer_timeout", 0) or default


def _start_loaded(lab, opts, timeout_ms, dirty_kbps=None, params=None, secondary_extra=(),
                  period=None):
    """Both QEMUs with colo-peer-timeout timeout_ms (and params) on both
    sides, the guest ready, the client's workload running and some
    checkpoints done."""
    kbps = opts.dirty_kbps if dirty_kbps is None else dirty_kbps
    primary, secondary = lab.start_pair(period or opts.period, opts.capability, kbps,
                                        params={"colo-peer-timeout": timeout_ms,
                                                **(params or {})},
                                        secondary_extra=secondary_extra)
    lab.wait_guest_ready(primary)
    work = lab.start_workload()
    start = lab.checkpoints()
    lab.wait_until("load before the fault",
                   lambda: work.answered() >= opts.before_kill and
                   lab.checkpoints() >= start + 3,
                   timeout=120, stall=30, progress=lambda: (work.answered(), lab.checkpoints()))
    lab.event(f"steady: {lab.checkpoints()} checkpoints, {work.answered()} requests answered, "
              f"colo-peer-timeout {timeout_ms} ms on both sides")
    return primary, secondary, work


class MonitorStuck(Exception):
    """A QEMU's monitor stopped answering: its main loop is blocked."""


def _guarded(vm, what, fn):
    """fn() talks to vm's monitor with QMP_TIMEOUT_S deadlines. A monitor
    that misses one is marked stuck (vm.monitor_stuck) and never asked
    again: a late answer would be taken for the next command's."""
    if getattr(vm, "monitor_stuck", False):
        raise MonitorStuck(f"the {vm.name}'s monitor is stuck")
    try:
        return fn()
    except QMPError as exc:
        if "timed out" not in str(exc):
            raise
        vm.monitor_stuck = True
        raise MonitorStuck(f"the {vm.name}'s monitor did not answer {what} within "
                           f"{QMP_TIMEOUT_S} s: its main loop is blocked (threads in "
                           f"{vm.name}-stacks.txt)") from exc


def _ask(vm, command, **args):
    return _guarded(vm, command,
                    lambda: vm.qmp.cmd(command, timeout=QMP_TIMEOUT_S, **args))


def _status(vm):
    return _ask(vm, "query-colo-status")


def _run_status(vm):
    return _ask(vm, "query-status")["status"]


def _stuck(lab, exc, failures):
    """A monitor got stuck: record it, keep the QEMUs' threads, look at
    what still serves, and at the COLO status of the QEMUs that answer."""
    failures.append(str(exc))
    lab.event(f"stuck: {exc}")
    lab.dump_stacks()
    figures = liveness.check_at_most_one(lab, "with a monitor stuck", failures)
    for vm in lab.vms.values():
        if vm.alive() and not getattr(vm, "monitor_stuck", False):
            try:
                st = _status(vm)
                figures[f"{vm.name}_colo_status"] = {k: st.get(k) for k in
                                                     ("mode", "last-mode", "reason",
                                                      "peer-lost")}
            except MonitorStuck:
                pass
    return figures


def _primary_cleanup(lab, primary, figures):
    """Management's part on a primary that ended COLO (colo.failover_on_primary)."""
    t = time.time()
    how = _guarded(primary, "the cleanup after COLO's end",
                   lambda: colo.failover_on_primary(primary, lab.net.proxy,
                                                    timeout=QMP_TIMEOUT_S))
    figures["primary_cleanup_s"] = round(time.time() - t, 3)
    lab.event(f"management on the primary: replication child removed in "
              f"{figures['primary_cleanup_s']:.2f} s (colo-failover: {how})")


def _manage_primary_end(lab, primary, t_fault, figures):
    """The primary ended COLO: record how, then management's cleanup on it."""
    st = _status(primary)
    lost = colo.events(primary, "COLO_PEER_LOST", "primary", t_fault - 1)
    ended = colo.events(primary, "COLO_EXIT", "primary", t_fault - 1)
    t_end = colo.event_time(ended[0]) if ended else time.time()
    figures["primary_end"] = {
        "after_s": round(t_end - t_fault, 3), "reason": st["reason"],
        "last_mode": st["last-mode"],
        "peer_lost_after_s": (round(colo.event_time(lost[0]) - t_fault, 3) if lost else None),
        "migration": _ask(primary, "query-migrate").get("status")}
    lab.event(f"the primary ended COLO {figures['primary_end']['after_s']:.2f} s after the "
              f"fault (reason {st['reason']}, "
              f"{'COLO_PEER_LOST' if lost else 'no COLO_PEER_LOST'}, "
              f"migration {figures['primary_end']['migration']})", at=t_end)
    _primary_cleanup(lab, primary, figures)


def _manage_secondary_loss(lab, secondary, primary, t_fault, figures, failures):
    """The secondary reports the loss of its primary: record it; the
    fencing check finds the primary alive, so no colo-failover."""
    lost = colo.events(secondary, "COLO_PEER_LOST", "secondary", t_fault - 1)
    state = _run_status(secondary)
    after = round((colo.event_time(lost[0]) if lost else time.time()) - t_fault, 3)
    figures["secondary_peer_lost"] = {"after_s": after, "guest": state,
                                      "error": lost[0]["data"]["error"] if lost else None}
    lab.event(f"the secondary reports the loss of its primary {after:.2f} s after the fault "
              f"(peer-lost true), its guest {'RUNNING' if state == 'running' else 'stopped'} "
              f"(run state {state})", at=t_fault + after)
    if state == "running":
        failures.append("the secondary runs its guest after reporting the loss of its primary")
    alive = primary.alive()
    figures["fencing"] = "primary alive: no colo-failover" if alive else "primary gone"
    lab.event("fencing check: the primary's QEMU is alive (not fenced): no colo-failover "
              "to the secondary" if alive else "fencing check: the primary's QEMU is gone")


def _await(lab, what, done, since, limit, failures):
    """Poll done() until it is true or limit seconds after since passed;
    then a failure names what did not happen. True when done."""
    while not done():
        for vm in lab.vms.values():
            if vm.expected_alive and not vm.alive():
                raise LabError(f"{vm.name} exited: {vm.stderr_tail()}")
        if time.time() > since + limit:
            failures.append(f"{what}: not within {limit:.1f} s")
            return False
        time.sleep(0.05)
    return True


def _migration_status(vm):
    return _ask(vm, "query-migrate").get("status")


def _sleep_until(t):
    time.sleep(max(0.0, t - time.time()))


def _secondary_never_resumed(secondary, failures, what):
    """No RESUME on the secondary after the event that ended its part
    (COLO_PEER_LOST, else COLO_EXIT); the guest is not running now."""
    _run_status(secondary)       # collects pending events
    marks = (colo.events(secondary, "COLO_PEER_LOST", "secondary") or
             colo.events(secondary, "COLO_EXIT", "secondary"))
    if marks:
        resumed = colo.events(secondary, "RESUME", since=colo.event_time(marks[0]))
        if resumed:
            failures.append(f"{what}: the secondary resumed its guest "
                            f"{colo.event_time(resumed[0]) - colo.event_time(marks[0]):.2f} s "
                            f"after {marks[0]['event']}")
    if _run_status(secondary) == "running":
        failures.append(f"{what}: the secondary's guest is running")


def _secondary_still_waits(secondary, failures, what):
    """After a stuck monitor: the secondary's checks, if it answers."""
    try:
        _secondary_never_resumed(secondary, failures, what)
        _secondary_waits(secondary, failures)
    except MonitorStuck as exc:
        failures.append(str(exc))


def _secondary_waits(secondary, failures):
    """The secondary still reports the loss and waits, guest not running."""
    st = _status(secondary)
    if st["mode"] != "secondary" or not st.get("peer-lost"):
        failures.append(f"the secondary no longer waits: mode {st['mode']}, "
                        f"peer-lost {st.get('peer-lost')}, reason {st['reason']}")


def _primary_unprotected(primary, failures, reason="error"):
    st = _status(primary)
    if st["mode"] != "none" or st["last-mode"] != "primary" or st["reason"] != reason:
        failures.append(f"the primary's COLO status is mode {st['mode']}, last-mode "
                        f"{st['last-mode']}, reason {st['reason']} (expected none, primary, "
                        f"{reason})")
    state = _run_status(primary)
    if state != "running":
        failures.append(f"the primary's guest is {state}")


def _wait_served(lab, work, since, count, what, failures, stall=30.0, limit=90.0):
    """Wait until count requests were answered after since; a failure
    when answers stop coming for stall seconds or limit passed."""
    last, t_last, t0 = -1, time.time(), time.time()
    while work.answered(since=since) < count:
        now, got = time.time(), work.answered(since=since)
        if got != last:
            last, t_last = got, now
        if now - t_last > stall or now - t0 > limit:
            failures.append(f"{what}: {got} of {count} answered, none for "
                            f"{now - t_last:.0f} s")
            lab.event(f"{what}: only {got} answered")
            return False
        time.sleep(0.1)
    lab.event(f"{what}: {count} answered")
    return True


def _summary(lab, work, figures, failures, t_fault, fault="the fault"):
    """Stop the client; the summary with figures, request figures and
    their checks. fault: what happened at t_fault, for the timeline."""
    from . import scenarios as base      # which imports this module
    records = work.stop()
    first = first_answer_after(records, t_fault)
    summary = base._base_summary(lab, lab.scenario)
    summary.update(figures)
    summary["requests"] = request_summary(records)
    summary["first_answer_after_fault_s"] = round(first, 3) if first is not None else None
    if first is not None:
        lab.event(f"first request answered {first:.2f} s after {fault}", at=t_fault + first)
    else:
        lab.event(f"no request answered after {fault}")
    check_requests(summary, failures)
    if first is None:
        failures.append(f"no request answered after {fault}")
    return summary, failures


# --- the hosts' link cut ------------------------------------------------------


def cut_link(netns, dev=FT_LINK):
    """Take dev down in netns; a veth's peer loses its carrier with it."""
    run("ip", "-n", netns, "link", "set", dev, "down")


def partition(lab, opts):
    """Only the link between the hosts (ft0) is cut; the clients still
    reach both hosts over br0. The primary goes on unprotected, the
    secondary reports the loss and waits with its guest paused, and
    management, which finds the primary alive, does not fail over: after
    3x colo-peer-timeout at most one copy of the guest is live, and no
    request is lost or processed twice."""
    timeout_ms = _peer_timeout(opts, PEER_TIMEOUT_MS)
    primary, secondary, work = _start_loaded(lab, opts, timeout_ms)
    figures, failures = {"colo_peer_timeout_ms": timeout_ms}, []
    t_cut = time.time()
    cut_link(lab.topology.primary)
    lab.event(f"{FT_LINK} down: the link between the hosts is cut, the clients still reach "
              f"both hosts over br0")
    _run_fault(lab, _after_cut, "after the cut",
               (lab, opts, work, t_cut, 3 * timeout_ms / 1000, figures, failures),
               figures, failures)
    return _summary(lab, work, figures, failures, t_cut, fault="the cut")


def _run_fault(lab, body, when, args, figures, failures):
    """Run a fault's checks; a monitor that got stuck ends them, and the
    secondary must still wait, not serve."""
    try:
        body(*args)
    except MonitorStuck as exc:
        figures["live_stuck"] = _stuck(lab, exc, failures)
        _secondary_still_waits(lab.vms["secondary"], failures, when)


def _after_cut(lab, opts, work, t_cut, limit, figures, failures):
    primary, secondary = lab.vms["primary"], lab.vms["secondary"]
    # The secondary first: a primary whose monitor gets stuck stops the run
    if _await(lab, "the secondary reports the loss of its primary (3x colo-peer-timeout)",
              lambda: _status(secondary).get("peer-lost"), t_cut, limit, failures):
        _manage_secondary_loss(lab, secondary, primary, t_cut, figures, failures)
    if _await(lab, "the primary ends COLO (3x colo-peer-timeout)",
              lambda: _status(primary)["mode"] == "none", t_cut, limit, failures):
        _manage_primary_end(lab, primary, t_cut, figures)
    _sleep_until(t_cut + limit)
    figures["live_at_3x_timeout"] = liveness.check_at_most_one(
        lab, f"{limit:.0f} s (3x colo-peer-timeout) after the cut", failures)
    _wait_served(lab, work, t_cut, opts.after_kill, "requests after the cut", failures)
    figures["live_at_end"] = liveness.check_at_most_one(lab, "at the end", failures)
    _secondary_still_waits(secondary, failures, "after the cut")
    _primary_unprotected(primary, failures)
    if not colo.events(primary, "COLO_PEER_LOST", "primary"):
        failures.append("the primary emitted no COLO_PEER_LOST")


# --- a frozen primary ---------------------------------------------------------


def primary_frozen(lab, opts):
    """The primary's QEMU is stopped (SIGSTOP) for 3x colo-peer-timeout,
    then continued. The secondary reports the loss and waits; management
    finds the primary alive and does not fail over; the continued
    primary finds its secondary gone, goes on unprotected from its own
    state and answers. At most one live copy during and after."""
    timeout_ms = _peer_timeout(opts, PEER_TIMEOUT_MS)
    primary, secondary, work = _start_loaded(lab, opts, timeout_ms)
    figures, failures = {"colo_peer_timeout_ms": timeout_ms}, []
    t_stop = time.time()
    _run_fault(lab, _freeze, "during and after the freeze",
               (lab, opts, work, t_stop, 3 * timeout_ms / 1000, figures, failures),
               figures, failures)
    return _summary(lab, work, figures, failures, t_stop, fault="SIGSTOP")


def _freeze(lab, opts, work, t_stop, limit, figures, failures):
    primary, secondary = lab.vms["primary"], lab.vms["secondary"]
    pid = primary.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        lab.event(f"primary QEMU stopped (SIGSTOP) for {limit:.0f} s")
        if _await(lab, "the secondary reports the loss of its primary",
                  lambda: _status(secondary).get("peer-lost"), t_stop, limit, failures):
            _manage_secondary_loss(lab, secondary, primary, t_stop, figures, failures)
        # The check (a silent guest's probe takes PROBE_S) ends at 3x the timeout
        _sleep_until(t_stop + limit - liveness.PROBE_S)
        figures["live_while_frozen"] = liveness.check_at_most_one(
            lab, f"{limit - liveness.PROBE_S:.0f}-{limit:.0f} s into the freeze "
                 f"(3x colo-peer-timeout)", failures)
    finally:
        os.kill(pid, signal.SIGCONT)
    t_cont = time.time()
    figures["frozen_s"] = round(t_cont - t_stop, 3)
    lab.event(f"primary QEMU continued (SIGCONT) after {figures['frozen_s']:.1f} s")
    if _await(lab, "the continued primary ends COLO",
              lambda: _status(primary)["mode"] == "none", t_cont, limit, failures):
        _manage_primary_end(lab, primary, t_stop, figures)
    _wait_served(lab, work, t_cont, opts.after_kill, "requests after SIGCONT", failures)
    first = first_answer_after(work.records_so_far(), t_cont)
    figures["first_answer_after_sigcont_s"] = round(first, 3) if first is not None else None
    figures["live_at_end"] = liveness.check_at_most_one(lab, "after SIGCONT", failures)
    _secondary_still_waits(secondary, failures, "during and after the freeze")
    _primary_unprotected(primary, failures)


# --- COLO ended on purpose on the primary ----------------------------------------


def _await_outcome(secondary, t_end, deadline):
    """Poll the secondary until it stood down, waits or runs its guest,
    or the deadline passed; (outcome (secondary_outcome()), its COLO
    status, its run state)."""
    while True:
        st, state = _status(secondary), _run_status(secondary)
        lost = bool(colo.events(secondary, "COLO_PEER_LOST", "secondary", t_end - 1))
        outcome = secondary_outcome(st, state, lost)
        if outcome in ACCEPTED_OUTCOMES + ("running",) or time.time() > deadline:
            return outcome, st, state
        time.sleep(0.05)


def _deliberate_end(lab, opts, command):
    """command ends COLO on the primary under load: the primary keeps
    serving, the secondary stands down (or, before QEMU announces the
    end, waits having lost its primary), never runs its guest."""
    timeout_ms = _peer_timeout(opts, PEER_TIMEOUT_MS)
    primary, secondary, work = _start_loaded(lab, opts, timeout_ms)
    figures = {"colo_peer_timeout_ms": timeout_ms, "command": command}
    failures = []
    t_end = time.time()
    try:
        _end_on_purpose(lab, opts, work, command, t_end, 3 * timeout_ms / 1000,
                        figures, failures)
    except MonitorStuck as exc:
        figures["live_stuck"] = _stuck(lab, exc, failures)
    return _summary(lab, work, figures, failures, t_end, fault=command)


def _end_on_purpose(lab, opts, work, command, t_end, limit, figures, failures):
    primary, secondary = lab.vms["primary"], lab.vms["secondary"]
    _ask(primary, command)
    lab.event(f"{command} sent to the primary under load")
    if not _await(lab, "the primary ends COLO", lambda: _status(primary)["mode"] == "none",
                  t_end, limit, failures):
        return
    st = _status(primary)
    figures["primary_end"] = {"after_s": round(time.time() - t_end, 3), "reason": st["reason"]}
    # query-colo-status says "none" from the moment the migration leaves
    # COLO; "cancelling" lasts until the migration thread has finished.
    _await(lab, "the primary's migration settles",
           lambda: _migration_status(primary) not in UNSETTLED_MIGRATION,
           t_end, limit, failures)
    figures["primary_end"]["migration"] = _migration_status(primary)
    figures["primary_end"]["settled_after_s"] = round(time.time() - t_end, 3)
    lab.event(f"the primary ended COLO {figures['primary_end']['after_s']:.2f} s after "
              f"{command} (reason {st['reason']}, migration "
              f"{figures['primary_end']['migration']})")
    outcome, sst, state = _await_outcome(secondary, t_end, t_end + limit)
    figures["secondary_outcome"] = outcome
    figures["secondary_status"] = {"mode": sst["mode"], "last-mode": sst["last-mode"],
                                   "reason": sst["reason"], "peer-lost": sst.get("peer-lost"),
                                   "guest": state}
    lab.event(f"the secondary's outcome: {outcome} (mode {sst['mode']}, reason "
              f"{sst['reason']}, peer-lost {sst.get('peer-lost')}, guest {state})")
    if outcome not in ACCEPTED_OUTCOMES:
        failures.append(f"the secondary after {command} on the primary: {outcome}")
    _served_before_cleanup(lab, work, t_end, command, figures)
    _primary_cleanup(lab, primary, figures)
    _wait_served(lab, work, t_end, opts.after_kill, f"requests after {command}", failures)
    figures["live_at_end"] = liveness.check_at_most_one(lab, f"after {command}", failures)
    _secondary_never_resumed(secondary, failures, f"after {command}")
    _primary_unprotected(primary, failures, reason="request")
    if colo.events(primary, "COLO_PEER_LOST"):
        failures.append(f"the primary emitted COLO_PEER_LOST after {command}")
    want = {"migrate_cancel": "cancelled", "colo-failover": "completed"}[command]
    if figures["primary_end"]["migration"] != want:
        failures.append(f"the primary's migration is {figures['primary_end']['migration']} "
                        f"after {command}, not {want}")


def _served_before_cleanup(lab, work, t_end, command, figures):
    """Does the primary answer before management touches it? A figure,
    not a check: management's cleanup follows anyway."""
    deadline = time.time() + HELD_OUTPUT_WINDOW_S
    while work.answered(since=t_end) == 0 and time.time() < deadline:
        time.sleep(0.05)
    first = first_answer_after(work.records_so_far(), t_end)
    figures["served_before_cleanup"] = first is not None
    lab.event(f"the primary answered a request {first:.2f} s after {command}, before any "
              f"cleanup" if first is not None else
              f"the primary answered no request within {HELD_OUTPUT_WINDOW_S:.0f} s of the "
              f"end, before any cleanup")


def cancel(lab, opts):
    """migrate_cancel on the primary under load."""
    return _deliberate_end(lab, opts, "migrate_cancel")


def primary_failover(lab, opts):
    """colo-failover on the primary under load."""
    return _deliberate_end(lab, opts, "colo-failover")


# --- checkpoints longer than colo-peer-timeout ----------------------------------------


def _client_get_retried(lab, path, attempts=3):
    """The guest stops for seconds per checkpoint here: the client's ARP
    can give up in one pause ("No route to host"), as a real client's
    would; like the workload's requests, try again."""
    for attempt in range(attempts):
        try:
            return lab.client_get(path, timeout=60)
        except LabError as exc:
            if attempt == attempts - 1:
                raise
            lab.event(f"{path}: {exc}; trying again")
    return None


def large_checkpoints(lab, opts):
    """Checkpoints that take longer than colo-peer-timeout, which
    neither side may take for a dead peer. The guest dirties RAM as fast
    as it can and zero pages are sent whole, so each checkpoint carries
    up to ~100 MiB; that alone is still quick here (a few hundred ms), so
    the secondary also waits x-colo-commit-delay-ms (2.5x the timeout by
    default) before loading each checkpoint, the primary's guest stopped
    meanwhile: a load longer than the timeout. The checkpoint period is
    at least twice that wait, for the guest to run. For the whole run: no
    COLO_PEER_LOST, both sides in COLO, checkpoints progress, requests
    answered."""
    timeout_ms = _peer_timeout(opts, LARGE_PEER_TIMEOUT_MS)
    kbps = opts.dirty_kbps or LARGE_DIRTY_KBPS
    duration = getattr(opts, "duration", 0) or LARGE_DURATION_S
    delay = getattr(opts, "load_delay", None)
    delay = int(LOAD_DELAY_FACTOR * timeout_ms) if delay is None else delay
    # The guest must run between checkpoints that each take delay ms
    period = max(opts.period, 2 * delay)
    # The dirtier writes zeros: with zero-page detection a dirtied page
    # costs a few bytes of the checkpoint, without it 4 KiB
    primary, secondary = lab.start_pair(
        period, opts.capability, 0,
        params={"colo-peer-timeout": timeout_ms, "zero-page-detection": "none"},
        secondary_extra=["-global", f"migration.x-colo-commit-delay-ms={delay}"])
    t_colo = time.time()
    figures = {"colo_peer_timeout_ms": timeout_ms, "dirty_kbps": kbps,
               "zero_page_detection": "none", "secondary_load_delay_ms": delay,
               "checkpoint_period_ms": period}
    failures = []
    # From here on COLO must hold: the guest boots through slow loads too
    lab.wait_guest_ready(primary)
    work = lab.start_workload()
    try:
        _client_get_retried(lab, f"/cgi-bin/dirty?kbps={kbps}")
        lab.event(f"the guest dirties {kbps} KiB/s; watching for {duration} s")
    except LabError as exc:
        failures.append(f"the guest did not take the dirty rate: {exc}")
    t0 = time.time()
    try:
        _watch_large(lab, work, t_colo, t0, duration, figures, failures)
    except MonitorStuck as exc:
        figures["live_stuck"] = _stuck(lab, exc, failures)
    return _summary(lab, work, figures, failures, t0, fault="the dirtying started")


def _watch_large(lab, work, t_colo, t0, duration, figures, failures):
    """Sample both sides' COLO status every half second for duration s
    from t0; a loss reported since COLO started (t_colo) fails."""
    primary, secondary = lab.vms["primary"], lab.vms["secondary"]
    before = _status(primary)["stats"]
    samples, counts, broke = [before], [(t0, before["checkpoints"])], None
    next_report = t0 + 10
    while time.time() < t0 + duration:
        pst, sst = _status(primary), _status(secondary)
        now = time.time()
        samples.append(pst["stats"])
        counts.append((now, pst["stats"]["checkpoints"]))
        if pst["mode"] != "primary" or sst["mode"] != "secondary" or sst.get("peer-lost"):
            broke = (f"{now - t0:.1f} s in: primary mode {pst['mode']} (reason "
                     f"{pst['reason']}), secondary mode {sst['mode']} "
                     f"(peer-lost {sst.get('peer-lost')})")
            lab.event(f"COLO broke down {broke}")
            break
        if now >= next_report:
            lab.event(f"{pst['stats']['checkpoints'] - before['checkpoints']} checkpoints, "
                      f"largest {largest_checkpoint(samples) / 2**20:.1f} MiB, "
                      f"{work.answered(since=t0)} requests answered")
            next_report += 10
        time.sleep(0.5)
    t1 = time.time()
    after = _status(primary)["stats"]
    _status(secondary)
    lost = [(vm, ev) for vm in (primary, secondary)
            for ev in colo.events(vm, "COLO_PEER_LOST", since=t_colo - 1)]
    for vm, ev in lost:
        failures.append(f"{vm.name}: COLO_PEER_LOST {colo.event_time(ev) - t_colo:.1f} s "
                        f"after COLO started ({ev['data']['error']})")
    if broke:
        failures.append(f"COLO broke down {broke}")
    done = after["checkpoints"] - before["checkpoints"]
    figures.update(
        checkpoints_in_window=done,
        ram_bytes_largest=largest_checkpoint(samples),
        ram_bytes_mean=((after["ram-bytes-total"] - before["ram-bytes-total"]) // done
                        if done else 0),
        ram_bytes_total=after["ram-bytes-total"],
        pause_max_ms=round(after["pause-max-us"] / 1000, 1),
        pause_mean_ms=round(after["pause-mean-us"] / 1000, 1),
        longest_without_checkpoint_s=round(longest_stall(counts, t1) or 0, 1),
        phase_ms=phase_medians(primary.trace_path),
        colo_stats={k: after[k] for k in STAT_KEYS})
    lab.event(f"{done} checkpoints in {t1 - t0:.0f} s, largest "
              f"{figures['ram_bytes_largest'] / 2**20:.1f} MiB of RAM, pause max "
              f"{figures['pause_max_ms']} ms")
    if done < 5:
        failures.append(f"only {done} checkpoints in {t1 - t0:.0f} s")
    if figures["longest_without_checkpoint_s"] > 20:
        failures.append(f"no checkpoint for {figures['longest_without_checkpoint_s']} s")
    if figures["ram_bytes_largest"] < 8 * 2**20:
        failures.append(f"the largest checkpoint carried only "
                        f"{figures['ram_bytes_largest']} bytes of RAM: not a large checkpoint")


SCENARIOS = {"partition": partition, "primary-frozen": primary_frozen,
             "cancel": cancel, "primary-failover": primary_failover,
             "large-checkpoints": large_checkpoints}
