"""Lab scenarios. Each returns a summary dict with 'ok' and 'failures'."""

import concurrent.futures
import random
import time

from . import colo, nic
from .capture import Capture
from .mismatch import check_release, checkpoint_windows, compute_windows, random_values
from .report import (check_requests, checkpoint_pauses, first_answer_after, pause_summary,
                     phase_medians, request_summary)
from .topology import CLIENT_IP, CLIENT_IP6, GUEST_IP, GUEST_IP6


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


def _check_nic_installed(lab, failures):
    """colo-proxy-script.sh's install ran on both hosts: the SVM's tap is
    on the forward bridge, both hosts have their queue rules."""
    topo = lab.topology
    where = nic.master(topo.secondary, "tap0")
    if where != nic.FORWARD_BRIDGE:
        failures.append(f"the SVM's tap is on {where}, not on {nic.FORWARD_BRIDGE}")
    for ns, side, want in ((topo.primary, "primary", 3), (topo.secondary, "secondary", 4)):
        got = len(nic.tagged_rules(ns))
        if got != want:
            failures.append(f"{side} host has {got} colo-proxy IPv4 rules, not {want}")


def nic_counters(lab, names=("primary", "secondary")):
    """{side: colo-nic counters} of the named VMs."""
    return {name: nic.counters(lab.vms[name]) for name in names}


def _check_nic_counters(counters, failures):
    """colo-nic's counters after load: the primary's output went through
    the comparison, no queue lost a packet, no packet was refused, and the
    secondary rewrote sequence numbers: every request of the workload opens
    a TCP connection after a checkpoint, and the SVM picks another initial
    sequence number than the PVM (the clock is part of it)."""
    primary, secondary = counters["primary"], counters["secondary"]
    if primary["released"] == 0:
        failures.append("the primary's colo-nic released no packet: "
                        "nothing went through the comparison")
    if primary["refused"]:
        failures.append(f"the primary's colo-nic refused {primary['refused']} packet(s)")
    for side, c in counters.items():
        for key in ("kernel-dropped", "recv-overflows", "verdict-errors"):
            if c.get(key):
                failures.append(f"the {side}'s colo-nic counts {c[key]} {key}")
    # No check that the secondary rewrote something: when both guests
    # answer a SYN within one tick of their clock their ISNs are equal and
    # nothing needs rewriting (seen in a 6-request nic-multiqueue run).
    # A wrong translation shows as a mismatch or a lost request instead.


def steady(lab, opts, checkpoints=None):
    """(a) N checkpoints under client load, every request answered."""
    checkpoints = checkpoints or opts.checkpoints
    lab.start_pair(opts.period, opts.capability, opts.dirty_kbps)
    lab.wait_guest_ready(lab.vms["primary"])
    start = lab.checkpoints()
    work = lab.start_workload()
    step = 10
    for done in range(min(step, checkpoints), checkpoints + step, step):
        done = min(done, checkpoints)
        lab.wait_until(f"{done} checkpoints", lambda: lab.checkpoints() >= start + done,
                       timeout=step * opts.period / 1000 * 4 + 60,
                       stall=max(15, opts.period / 1000 * 5), progress=lab.checkpoints)
        lab.event(f"{lab.checkpoints() - start} checkpoints under load, "
                  f"{work.answered()} requests answered")
        if done == checkpoints:
            break
    records = work.stop()
    stats = colo_stats(lab.vms["primary"])
    counters = nic_counters(lab) if lab.net.proxy == "nic" else None
    summary = _base_summary(lab, lab.scenario)
    summary["colo_stats"] = stats
    if counters is not None:
        summary["colo_nic"] = counters
    summary["phase_ms"] = phase_medians(lab.vms["primary"].trace_path)
    summary["checkpoints_under_load"] = lab.checkpoints() - start
    summary["requests"] = request_summary(records)
    failures = []
    _check_stats_agree(summary, failures)
    if stats is not None and "wait-loaded" not in summary["phase_ms"]:
        failures.append("no colo_checkpoint_phase trace events")
    if summary["checkpoints_under_load"] < checkpoints:
        failures.append(f"only {summary['checkpoints_under_load']} checkpoints")
    check_requests(summary, failures)
    for vm in lab.vms.values():
        if vm.qmp.cmd("query-status")["status"] != "running":
            failures.append(f"{vm.name} not running at the end")
    if lab.net.proxy == "nic":
        _check_nic_installed(lab, failures)
        _check_nic_counters(counters, failures)
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
    # colo-nic's counters while both sides run, then the survivor's
    counters = {"before_kill": nic_counters(lab)} if lab.net.proxy == "nic" else None
    t_kill = time.time()
    victim_vm.kill()
    lab.event(f"{victim} killed (SIGKILL) after {lab.checkpoints()} checkpoints and "
              f"{work.answered()} answered requests", at=t_kill)
    how, state = colo.fail_over_survivor(survivor, victim, victim_vm, lab.net.proxy,
                                         log=lab.event, since=t_kill)
    exit_reason = survivor.qmp.cmd("query-colo-status").get("reason")
    lab.event(f"COLO ended on the {survivor_name} {time.time() - t_kill:.2f} s after the "
              f"kill ({how} failover, reason {exit_reason}, guest {state})")
    lab.wait_until("requests after the failover",
                   lambda: work.answered(since=t_kill) >= opts.after_kill,
                   timeout=120, stall=60, progress=lambda: work.answered(since=t_kill))
    records = work.stop()
    first = first_answer_after(records, t_kill)
    if first is not None:
        lab.event(f"first request served {first:.2f} s after the kill", at=t_kill + first)
    else:
        lab.event("no request served after the kill")
    read_back = lab.client_get("/cgi-bin/disk").removeprefix("marker=")
    lab.event(f"disk marker read back from the {survivor_name}: {read_back}")

    if counters is not None:
        counters["survivor_after"] = nic.counters(survivor)
    summary = _base_summary(lab, lab.scenario)
    summary["survivor_colo_stats"] = colo_stats(survivor)
    if counters is not None:
        summary["colo_nic"] = counters
    summary["failover"] = {"how": how, "reason": exit_reason}
    if victim == "primary":
        summary["peer_lost_after_s"] = _peer_lost_after(survivor, t_kill)
    summary["requests"] = request_summary(records)
    summary["failover_gap_s"] = round(first, 3) if first is not None else None
    summary["disk_marker"] = {"written": marker, "read": read_back, "ok": marker == read_back}
    failures = []
    check_requests(summary, failures)
    if first is None or first > opts.max_gap:
        failures.append(f"first request after the kill served after {first} s "
                        f"(limit {opts.max_gap} s)")
    if not summary["disk_marker"]["ok"]:
        failures.append(f"disk marker {marker!r} read back as {read_back!r}")
    if state != "running":
        failures.append(f"survivor is {state}")
    # The primary goes on alone on its own (reason error) or on request
    # (request); the secondary takes over on request after the loss of its
    # primary, and COLO ended because of that loss (error)
    want_reason = {"automatic": "error", "requested": "request"}[how]
    if victim == "primary":
        want_reason = "error"
    if exit_reason != want_reason:
        failures.append(f"survivor's COLO exit reason is {exit_reason}, "
                        f"not {want_reason} after a {how} failover")
    stats = summary["survivor_colo_stats"]
    if stats is not None and stats["failovers"] != 1:
        failures.append(f"survivor counts {stats['failovers']} failovers, not 1")
    if lab.net.proxy == "nic":
        _check_nic_failover(lab, victim, failures)
        if counters["before_kill"]["primary"]["released"] == 0:
            failures.append("before the kill the primary's colo-nic released no packet: "
                            "nothing went through the comparison")
    return summary, failures


def _peer_lost_after(vm, t_fault):
    """Seconds from the fault to vm's COLO_PEER_LOST, or None."""
    lost = colo.events(vm, "COLO_PEER_LOST", since=t_fault - 1)
    return round(colo.event_time(lost[0]) - t_fault, 3) if lost else None


def _check_nic_failover(lab, victim, failures):
    """QEMU ran the script's failover on the survivor, and what the PVM's
    queue held was decided once: dropped with the killed primary's
    socket, or by the surviving primary at the failover."""
    topo = lab.topology
    if victim == "primary":
        where = nic.master(topo.secondary, "tap0")
        if where != "br0":
            failures.append(f"after failover the SVM's tap is on {where}, not back on br0")
        if not any(r.startswith("filter ") for r in nic.tagged_rules(topo.secondary)):
            failures.append("the secondary's rewrite queue rules are gone after failover")
        left = nic.bound_queues(topo.primary)
        if left:
            failures.append(f"queue(s) {left} of the killed primary still have a listener")
    else:
        left = [r for r in nic.tagged_rules(topo.primary)
                if r.startswith(("filter ", "mangle "))]
        if left:
            failures.append(f"the primary still queues after failover: {left[0]}")
        survivor = nic.counters(lab.vms["primary"])
        if survivor["held"]:
            failures.append(f"the surviving primary's colo-nic still holds "
                            f"{survivor['held']} packet(s)")
        if survivor.get("verdict-errors"):
            failures.append(f"the surviving primary's colo-nic counts "
                            f"{survivor['verdict-errors']} verdict error(s): a packet "
                            "decided twice, or never")


def kill_primary(lab, opts):
    """(b) the primary dies mid-workload; the secondary takes over."""
    return _failover(lab, opts, "primary")


def kill_secondary(lab, opts):
    """(c) the secondary dies mid-workload; the primary goes on alone."""
    return _failover(lab, opts, "secondary")


# nic-mismatch: answers of random length up to this many bytes (several
# segments, GSO-sized on the tap); the second half of the requests is
# asked by this many clients at once; every other request over IPv6.
MISMATCH_MAX_PAD = 200_000
MISMATCH_PARALLEL = 3
# The checkpoint period while the requests run: the checkpoints then come
# mostly from the mismatches, so that few fall while the PVM computes a
# value (such an answer cannot be checked, see mismatch._check_answer).
MISMATCH_PERIOD_MS = 20_000


def _over_ipv6(tag):
    return int(tag[1:]) % 2 == 1


def _random_answers(lab, n, seed):
    """Ask /cgi-bin/random n times, each with a padding of random length:
    one after the other, then MISMATCH_PARALLEL at a time, the odd ones
    over IPv6; {tag: (answer, padding)}."""
    rng = random.Random(seed)
    pads = {f"r{i}": rng.randrange(MISMATCH_MAX_PAD + 1) for i in range(n)}

    def ask(tag):
        return lab.client_get(f"/cgi-bin/random?tag={tag}&pad={pads[tag]}", timeout=30.0,
                              ipv6=_over_ipv6(tag))

    tags = sorted(pads, key=lambda tag: int(tag[1:]))
    answers = {tag: ask(tag) for tag in tags[:n // 2]}
    with concurrent.futures.ThreadPoolExecutor(MISMATCH_PARALLEL) as pool:
        answers.update(zip(tags[n // 2:], pool.map(ask, tags[n // 2:])))
    return {tag: (answers[tag], pads[tag]) for tag in tags}


def _check_random_answers(answers, pvm, failures):
    for tag, (body, pad) in answers.items():
        line = f"tag={tag} value={pvm.get(tag)}"
        want = f"{line}\n{'x' * pad}{line}"
        if body != want:
            failures.append(f"request {tag}: an answer of {len(body)} bytes that is not "
                            f"{line!r}, {pad} x and the line again")


def nic_mismatch(lab, opts):
    """colo-nic under output that differs between the VMs: answers of
    /cgi-bin/random, of random length, asked by one client, then by
    several at once, over IPv4 and IPv6.
    Each is a mismatch. The client's capture shows only the PVM's
    answers; each segment of them that carries the differing value was
    emitted on the PVM's tap before a checkpoint stopped the PVM, and
    reached the client after that checkpoint was committed."""
    run_start = time.time()
    primary, secondary = lab.start_pair(opts.period, opts.capability, opts.dirty_kbps)
    lab.wait_guest_ready(primary)
    topo = lab.topology
    # Some checkpoints first: the SVM then runs the guest the PVM runs
    start = lab.checkpoints()
    lab.wait_until("3 checkpoints", lambda: lab.checkpoints() >= start + 3, timeout=60,
                   stall=30, progress=lab.checkpoints)
    colo.set_period(primary, MISMATCH_PERIOD_MS, opts.capability)
    before = colo_stats(primary)
    counters_before = nic_counters(lab)
    seed = random.randrange(1 << 32)
    capture_start = time.time()
    client_pcap, tap_pcap = f"{lab.rundir}/client.pcap", f"{lab.rundir}/pvm-tap.pcap"
    tap_cap = Capture(topo.primary, tap_pcap, iface="tap0", expr="tcp port 80").start()
    try:
        cap = Capture(topo.client, client_pcap, expr="tcp port 80").start()
        lab.event("captures running on the client and on the PVM's tap")
        try:
            answers = _random_answers(lab, opts.requests, seed)
            lab.event(f"{opts.requests} /cgi-bin/random requests answered")
        finally:
            cap.stop()
    finally:
        tap_cap.stop()
    capture_window = (capture_start, time.time())
    after = colo_stats(primary)
    counters = nic_counters(lab)
    pvm, svm = random_values(primary.serial()), random_values(secondary.serial())
    pvm = {tag: v for tag, v in pvm.items() if tag in answers}
    # Every checkpoint of the run, from QEMU's start to now
    windows = checkpoint_windows(primary.trace_path)
    computed = compute_windows(primary.trace_path)
    failures, figures = check_release(client_pcap, tap_pcap, {CLIENT_IP, CLIENT_IP6},
                                      {GUEST_IP, GUEST_IP6},
                                      pvm, svm, windows, computed, capture_window,
                                      (run_start, time.time()))
    figures.update(seed=seed, answer_bytes=sum(len(body) for body, _ in answers.values()))
    _check_random_answers(answers, pvm, failures)
    summary = _base_summary(lab, lab.scenario)
    summary.update(colo_stats=after, release=figures,
                   colo_nic={"before": counters_before, "after": counters})
    if before is None or after is None:
        failures.append("query-colo-status has no statistics")
    else:
        summary["mismatch_checkpoints"] = after["mismatch"] - before["mismatch"]
        if summary["mismatch_checkpoints"] < 1:
            failures.append("no mismatch-triggered checkpoint (stats 'mismatch' did not grow)")
    if figures["svm_differing"] == 0:
        failures.append("the SVM logged no differing value: nothing was compared")
    elif figures["checked_answers"] < opts.requests // 2:
        failures.append(f"{figures['checked_answers']} differing answer(s) checked: a "
                        "checkpoint came while the PVM computed the others")
    elif not set(figures["checked"]) & set(sorted(answers, key=lambda t: int(t[1:]))
                                           [opts.requests // 2:]):
        failures.append("no answer asked in parallel was checked")
    figures["checked_ipv6"] = sum(1 for tag in figures["checked"] if _over_ipv6(tag))
    if figures["svm_differing"] and not figures["checked_ipv6"]:
        failures.append("no answer asked over IPv6 was checked")
    nic_mismatches = (counters["primary"]["mismatches"] -
                      counters_before["primary"]["mismatches"])
    summary["colo_nic_mismatches"] = nic_mismatches
    if nic_mismatches < 1:
        failures.append("the primary's colo-nic counted no mismatch during the requests")
    # Each request opens a TCP connection after a checkpoint (3 before the
    # first, a mismatch checkpoint before each next): the SVM's initial
    # sequence number differs from the PVM's, its packets are rewritten.
    if counters["secondary"]["rewritten"] == counters_before["secondary"]["rewritten"]:
        failures.append("the secondary's colo-nic rewrote no packet during the requests")
    _check_nic_installed(lab, failures)
    return summary, failures


def nic_multiqueue(lab, opts):
    """colo-nic with a multiqueue tap and virtio-net (mq=on): a few
    checkpoints under load, and no net filter on the netdev."""
    summary, failures = steady(lab, opts, checkpoints=min(opts.checkpoints, 10))
    primary = lab.vms["primary"]
    ready = [line for line in primary.serial().splitlines() if "COLO-GUEST-READY" in line]
    queues = ready[0].rsplit("queues=", 1)[-1] if ready else "?"
    summary["guest_queues"] = queues
    if queues != str(lab.net.queues):
        failures.append(f"the guest uses {queues} queues, not {lab.net.queues}")
    for vm in lab.vms.values():
        info = vm.qmp.cmd("human-monitor-command", **{"command-line": "info network"})
        if "filters:" in info:
            failures.append(f"{vm.name}: info network lists net filters on the netdev")
        types = [o["type"] for o in vm.qmp.cmd("qom-list", path="/objects")]
        filters = [t for t in types if t.startswith("child<filter-") or "colo-compare" in t]
        if filters:
            failures.append(f"{vm.name}: net filter objects {filters}")
        if not any(t == "child<colo-nic>" for t in types):
            failures.append(f"{vm.name}: no colo-nic object")
    return summary, failures


SCENARIOS = {"steady": steady, "kill-primary": kill_primary,
             "kill-secondary": kill_secondary,
             "nic-steady": steady, "nic-mismatch": nic_mismatch,
             "nic-kill-primary": kill_primary, "nic-kill-secondary": kill_secondary,
             "nic-multiqueue": nic_multiqueue}

# The fault scenarios (faults.py uses this module's checks, hence here)
from .faults import SCENARIOS as _FAULT_SCENARIOS  # noqa: E402
SCENARIOS.update(_FAULT_SCENARIOS)

# The network of the scenarios that do not use upstream's colo-compare stack
NETS = {"nic-steady": {"proxy": "nic"}, "nic-mismatch": {"proxy": "nic", "ipv6": True},
        "nic-kill-primary": {"proxy": "nic"}, "nic-kill-secondary": {"proxy": "nic"},
        "nic-multiqueue": {"proxy": "nic", "queues": 2}}

# colo-nic's host side: flooded chatter, the host's firewall (nic_host.py)
from .nic_host import NETS as _NIC_HOST_NETS, SCENARIOS as _NIC_HOST_SCENARIOS  # noqa: E402
SCENARIOS.update(_NIC_HOST_SCENARIOS)
NETS.update(_NIC_HOST_NETS)

# colo-nic at the checkpoint boundary (nic_stream.py)
from .nic_stream import NETS as _NIC_STREAM_NETS, SCENARIOS as _NIC_STREAM_SCENARIOS  # noqa: E402
SCENARIOS.update(_NIC_STREAM_SCENARIOS)
NETS.update(_NIC_STREAM_NETS)

# Protecting a running guest and its survivors (protection.py)
from .protection import SCENARIOS as _PROTECTION_SCENARIOS  # noqa: E402
SCENARIOS.update(_PROTECTION_SCENARIOS)

# Scenarios driven through libvirt, one libvirtd per host (libvirt_migrate.py)
from .libvirt_migrate import SCENARIOS as _LIBVIRT_SCENARIOS  # noqa: E402
SCENARIOS.update(_LIBVIRT_SCENARIOS)
from .libvirt_colo import SCENARIOS as _LIBVIRT_COLO_SCENARIOS  # noqa: E402
SCENARIOS.update(_LIBVIRT_COLO_SCENARIOS)
