"""Lab scenarios. Each returns a summary dict with 'ok' and 'failures'."""

import time

from . import colo
from .report import checkpoint_pauses, first_answer_after, pause_summary, phase_medians, request_summary
from .topology import LabError


def _base_summary(lab, name):
    pauses = []
    if "primary" in lab.vms:
        pauses = checkpoint_pauses(lab.vms["primary"].trace_path)
    return {"scenario": name, "checkpoints": len(pauses),
            "pause_ms": pause_summary(pauses), "rundir": lab.rundir}


STAT_KEYS = ("checkpoints", "periodic", "mismatch", "request", "other",
             "pause-mean-us", "pause-max-us", "ram-bytes-total",
             "device-bytes-total", "mismatches", "failovers")


def colo_stats(vm):
    """query-colo-status' statistics (None on a QEMU without them)."""
    stats = vm.qmp.cmd("query-colo-status").get("stats")
    return {k: stats[k] for k in STAT_KEYS} if stats else None


def _check_stats_agree(summary, failures):
    """QEMU's own checkpoint count must match the one from trace events
    (the primary may be one checkpoint further when it is asked)."""
    stats = summary.get("colo_stats")
    if stats is None:
        return
    if not 0 <= stats["checkpoints"] - summary["checkpoints"] <= 1:
        failures.append(f"query-colo-status counts {stats['checkpoints']} checkpoints, "
                        f"the trace {summary['checkpoints']}")


def _check_requests(summary, failures):
    req = summary["requests"]
    if req["answered"] == 0:
        failures.append("no request answered")
    for key in ("lost", "duplicated", "counter_gaps", "counter_rollbacks"):
        if req[key]:
            failures.append(f"{req[key]} request(s) {key.replace('_', ' ')}")


def steady(lab, opts):
    """(a) N checkpoints under client load, every request answered."""
    lab.start_pair(opts.period, opts.capability, opts.dirty_kbps)
    lab.wait_guest_ready(lab.vms["primary"])
    start = lab.checkpoints()
    work = lab.start_workload()
    step = 10
    for done in range(min(step, opts.checkpoints), opts.checkpoints + step, step):
        done = min(done, opts.checkpoints)
        lab.wait_until(f"{done} checkpoints", lambda: lab.checkpoints() >= start + done,
                       timeout=step * opts.period / 1000 * 4 + 60,
                       stall=max(15, opts.period / 1000 * 5), progress=lab.checkpoints)
        lab.event(f"{lab.checkpoints() - start} checkpoints under load, "
                  f"{work.answered()} requests answered")
        if done == opts.checkpoints:
            break
    records = work.stop()
    stats = colo_stats(lab.vms["primary"])
    summary = _base_summary(lab, "steady")
    summary["colo_stats"] = stats
    summary["phase_ms"] = phase_medians(lab.vms["primary"].trace_path)
    summary["checkpoints_under_load"] = lab.checkpoints() - start
    summary["requests"] = request_summary(records)
    failures = []
    _check_stats_agree(summary, failures)
    if stats is not None and "wait-loaded" not in summary["phase_ms"]:
        failures.append("no colo_checkpoint_phase trace events")
    if summary["checkpoints_under_load"] < opts.checkpoints:
        failures.append(f"only {summary['checkpoints_under_load']} checkpoints")
    _check_requests(summary, failures)
    for vm in lab.vms.values():
        if vm.qmp.cmd("query-status")["status"] != "running":
            failures.append(f"{vm.name} not running at the end")
    return summary, failures


def _failover(lab, opts, victim):
    survivor_name = "secondary" if victim == "primary" else "primary"
    lab.start_pair(opts.period, opts.capability, opts.dirty_kbps)
    lab.wait_guest_ready(lab.vms["primary"])
    marker = f"m{int(time.time())}"
    lab.client_get(f"/cgi-bin/disk?write={marker}")
    lab.event(f"disk marker {marker} written by the primary")
    work = lab.start_workload()
    start = lab.checkpoints()
    lab.wait_until("load before the kill",
                   lambda: work.answered() >= opts.before_kill and
                   lab.checkpoints() >= start + 3,
                   timeout=120, stall=30, progress=lambda: (work.answered(), lab.checkpoints()))
    victim_vm, survivor = lab.vms[victim], lab.vms[survivor_name]
    t_kill = time.time()
    victim_vm.kill()
    lab.event(f"{victim} killed (SIGKILL) after {lab.checkpoints()} checkpoints and "
              f"{work.answered()} answered requests")
    if victim == "primary":
        how = colo.failover_on_secondary(survivor)
    else:
        how = colo.failover_on_primary(survivor)
    state = colo.wait_colo_ended(survivor)
    exit_reason = survivor.qmp.cmd("query-colo-status").get("reason")
    lab.event(f"failover done on the {survivor_name} ({how}, reason {exit_reason}, "
              f"guest {state})")
    lab.wait_until("requests after the failover",
                   lambda: work.answered(since=t_kill) >= opts.after_kill,
                   timeout=120, stall=60, progress=lambda: work.answered(since=t_kill))
    records = work.stop()
    first = first_answer_after(records, t_kill)
    lab.event(f"first request served {first:.2f} s after the kill" if first is not None
              else "no request served after the kill")
    read_back = lab.client_get("/cgi-bin/disk").removeprefix("marker=")
    lab.event(f"disk marker read back from the {survivor_name}: {read_back}")

    summary = _base_summary(lab, f"kill-{victim}")
    summary["survivor_colo_stats"] = colo_stats(survivor)
    summary["failover"] = {"how": how, "reason": exit_reason}
    summary["requests"] = request_summary(records)
    summary["failover_gap_s"] = round(first, 3) if first is not None else None
    summary["disk_marker"] = {"written": marker, "read": read_back, "ok": marker == read_back}
    failures = []
    _check_requests(summary, failures)
    if first is None or first > opts.max_gap:
        failures.append(f"first request after the kill served after {first} s "
                        f"(limit {opts.max_gap} s)")
    if not summary["disk_marker"]["ok"]:
        failures.append(f"disk marker {marker!r} read back as {read_back!r}")
    if state != "running":
        failures.append(f"survivor is {state}")
    # A side fails over on its own (reason error) or on request (request)
    want_reason = {"automatic": "error", "requested": "request"}[how]
    if exit_reason != want_reason:
        failures.append(f"survivor's COLO exit reason is {exit_reason}, "
                        f"not {want_reason} after a {how} failover")
    stats = summary["survivor_colo_stats"]
    if stats is not None and stats["failovers"] != 1:
        failures.append(f"survivor counts {stats['failovers']} failovers, not 1")
    return summary, failures


def kill_primary(lab, opts):
    """(b) the primary dies mid-workload; the secondary takes over."""
    return _failover(lab, opts, "primary")


def kill_secondary(lab, opts):
    """(c) the secondary dies mid-workload; the primary goes on alone."""
    return _failover(lab, opts, "secondary")


SCENARIOS = {"steady": steady, "kill-primary": kill_primary,
             "kill-secondary": kill_secondary}
