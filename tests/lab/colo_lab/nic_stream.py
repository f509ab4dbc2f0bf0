"""colo-nic scenario about checkpoint boundaries on the secondary:

nic-checkpoint-edge: echo connections that live across checkpoints, the
  client sending a line every few milliseconds, so that client data
  arrives while a checkpoint is taken. Each connection is new, and the
  SVM answered its SYN with another sequence number than the PVM: until
  the next checkpoint the secondary's rewriter translates with an
  offset, after it with none. Data that reaches the restored SVM
  translated with the old offset is dropped there, the SVM's echo never
  comes, and the PVM's waits for the next checkpoint. So: no packet to
  the SVM translated (its ack changed) between the SVM's stop for a
  checkpoint and the rewriter's reset that follows it, from the
  secondary's trace; every line echoed, no compare timeout, no mismatch
  checkpoint; fewer than a fifth of the echoes 200 ms late or more (the
  PVM's answers waited for a checkpoint: measured, a third without the
  fix, 4-8 % with it).
"""

import json
import os
import re
import subprocess
import sys

from . import colo
from .qemu import LAB_DIR
from .scenarios import colo_stats, nic_counters, _base_summary, _check_nic_installed
from .topology import GUEST_IP, LabError

EDGE_PERIOD_MS = 300        # each connection crosses two checkpoints
EDGE_DURATION_S = 20
EDGE_INTERVAL_MS = 4
EDGE_HOLD_MS = 700
EDGE_LATE_SHARE = 0.2       # of the echoes, at most, 200 ms late or more


def _echo_streams(netns, seconds):
    env = dict(os.environ, PYTHONPATH=LAB_DIR)
    cmd = ["ip", "netns", "exec", netns, sys.executable, "-m", "colo_lab.echo_stream",
           GUEST_IP, "--duration", str(seconds), "--interval-ms", str(EDGE_INTERVAL_MS),
           "--hold-ms", str(EDGE_HOLD_MS)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                          env=env, timeout=seconds + 120, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        raise LabError(f"echo_stream failed (exit {done.returncode})")
    return json.loads(lines[-1])


# Per-packet events, turned on for this scenario only
EDGE_TRACE_EVENTS = ("colo_rewriter_to_guest", "colo_rewriter_checkpoint")
TRACE_LINE = re.compile(r"^\d+@([\d.]+):(\w+) (.*)$")
ACK_CHANGE = re.compile(r"ack (\d+) -> (\d+)")


def _trace_on(vm, events):
    for name in events:
        vm.qmp.cmd("trace-event-set-state", name=name, enable=True)


def stale_translations(trace_path):
    """(checkpoints, packets to the SVM whose ack the rewriter changed
    between the SVM's stop for a checkpoint and the rewriter's reset)."""
    events = []
    with open(trace_path, errors="replace") as f:
        for line in f:
            m = TRACE_LINE.match(line.strip())
            if m:
                events.append((float(m.group(1)), m.group(2), m.group(3)))
    events.sort(key=lambda e: e[0])
    stopped, checkpoints, stale = False, 0, 0
    for _, name, args in events:
        if name == "colo_vm_state_change" and "'run' => 'stop'" in args:
            stopped = True
        elif name == "colo_rewriter_checkpoint":
            stopped, checkpoints = False, checkpoints + 1
        elif name == "colo_rewriter_to_guest" and stopped:
            m = ACK_CHANGE.search(args)
            stale += bool(m and m.group(1) != m.group(2))
    return checkpoints, stale


def _delta(after, before, key):
    return after[key] - before[key]


def nic_checkpoint_edge(lab, opts):
    primary, secondary = lab.start_pair(opts.period, opts.capability, opts.dirty_kbps)
    lab.wait_guest_ready(primary)
    _trace_on(secondary, EDGE_TRACE_EVENTS)
    start = lab.checkpoints()
    lab.wait_until("3 checkpoints", lambda: lab.checkpoints() >= start + 3, timeout=60,
                   stall=30, progress=lab.checkpoints)
    colo.set_period(primary, EDGE_PERIOD_MS, opts.capability)
    stats_before, nic_before = colo_stats(primary), nic_counters(lab)
    first = lab.checkpoints()
    streams = _echo_streams(lab.topology.client, EDGE_DURATION_S)
    lab.event(f"{streams['connections']} echo connections, {streams['lines_echoed']} of "
              f"{streams['lines_sent']} lines echoed, rtt max {streams['rtt_ms']['max']} ms")
    stats, counters = colo_stats(primary), nic_counters(lab)
    summary = _base_summary(lab, lab.scenario)
    summary.update(echo=streams, checkpoints_during=lab.checkpoints() - first,
                   mismatch_checkpoints=_delta(stats, stats_before, "mismatch"),
                   compare_timeouts=_delta(counters["primary"], nic_before["primary"],
                                           "timeouts"),
                   rewritten=_delta(counters["secondary"], nic_before["secondary"],
                                    "rewritten"))
    resets, stale = stale_translations(secondary.trace_path)
    summary.update(rewriter_resets=resets, stale_translations=stale)
    failures = []
    if stale:
        failures.append(f"{stale} packet(s) to the SVM translated with the offsets of the "
                        "state a checkpoint was replacing")
    if streams["failed"]:
        failures.append(f"echo connections failed: {streams['failed']}")
    late_share = streams["late"] / max(streams["lines_echoed"], 1)
    summary["late_share"] = round(late_share, 3)
    if late_share > EDGE_LATE_SHARE:
        failures.append(f"{late_share:.0%} of the echoes 200 ms late or more: the SVM's "
                        "did not come, the PVM's waited for a checkpoint")
    if streams["lines_echoed"] != streams["lines_sent"]:
        failures.append(f"{streams['lines_sent'] - streams['lines_echoed']} line(s) "
                        "not echoed")
    if summary["checkpoints_during"] < EDGE_DURATION_S * 1000 // EDGE_PERIOD_MS // 2:
        failures.append(f"only {summary['checkpoints_during']} checkpoints during the streams")
    if summary["rewritten"] == 0:
        failures.append("the secondary's colo-nic rewrote no packet: no offset to get wrong")
    if summary["compare_timeouts"]:
        failures.append(f"{summary['compare_timeouts']} compare timeout(s): the SVM's echo "
                        "did not come")
    if summary["mismatch_checkpoints"]:
        failures.append(f"{summary['mismatch_checkpoints']} mismatch checkpoint(s) for "
                        "output both guests produce alike")
    _check_nic_installed(lab, failures)
    return summary, failures


SCENARIOS = {"nic-checkpoint-edge": nic_checkpoint_edge}
NETS = {name: {"proxy": "nic"} for name in SCENARIOS}
