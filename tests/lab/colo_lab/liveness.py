"""How many live copies of the guest are there? A copy is live when its
QEMU process runs (not stopped, not gone), QEMU says the guest runs
(query-status "running") and the guest answers on its own host's tap
(see probe.py). COLO's promise after any fault: at most one."""

import json
import os
import subprocess
import sys
from functools import lru_cache

from .qemu import GUEST_MAC, LAB_DIR
from .qmp import QMPError
from .topology import CLIENT_IP, GUEST_IP, LabError, run

TAP = "tap0"
PROBE_S = 2.0       # how long a guest has to answer the probe


def process_state(pid):
    """'running', 'stopped' (SIGSTOP, a debugger) or 'gone', from
    /proc/PID/stat; a zombie is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    return parse_process_state(stat)


def parse_process_state(stat):
    """The state of a /proc/PID/stat line: the letter after the command
    name, which is in parentheses and may itself hold ')'."""
    letter = stat[stat.rfind(")") + 2:][:1]
    if letter in ("T", "t"):
        return "stopped"
    if letter in ("Z", "X", "x", ""):
        return "gone"
    return "running"


def is_live(obs):
    """One observation (see observe()) says the copy serves."""
    return obs["process"] == "running" and obs["status"] == "running" and bool(obs["answers"])


def live_copies(observations):
    """The names of the observed copies that are live."""
    return [obs["name"] for obs in observations if is_live(obs)]


def verdict(observations, when):
    """Figures of one check and the failure it found, if any:
    ({"when", "live", "observations"}, message or None)."""
    live = live_copies(observations)
    figures = {"when": when, "live": live, "observations": observations}
    if len(live) > 1:
        return figures, f"{when}: {len(live)} live copies of the guest ({', '.join(live)})"
    return figures, None


@lru_cache(maxsize=None)
def _mac(netns, dev):
    out = run("ip", "-n", netns, "-j", "link", "show", dev).stdout
    return json.loads(out)[0]["address"]


def guest_answers(lab, vm, timeout=PROBE_S):
    """(answered, rtt ms) of an echo request into vm's tap, sent as the
    client, from vm's host namespace."""
    netns = {"primary": lab.topology.primary, "secondary": lab.topology.secondary}[vm.name]
    env = dict(os.environ, PYTHONPATH=LAB_DIR)
    cmd = ["ip", "netns", "exec", netns, sys.executable, "-m", "colo_lab.probe", TAP,
           "--guest-mac", GUEST_MAC, "--guest-ip", GUEST_IP,
           "--src-mac", _mac(lab.topology.client, "eth0"), "--src-ip", CLIENT_IP,
           "--timeout", str(timeout)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=timeout + 30)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"probe of the {vm.name}'s guest: no result") from exc
    if proc.returncode != 0:
        raise LabError(f"probe of the {vm.name}'s guest: {proc.stderr.strip()}")
    res = json.loads(proc.stdout)
    return res["answered"], res["rtt_ms"]


def observe(lab, name, probe_timeout=PROBE_S):
    """One copy's state: its process, QEMU's run state and whether the
    guest answers. A stopped or gone QEMU is neither asked (its monitor
    would not answer) nor probed."""
    vm = lab.vms[name]
    obs = {"name": name, "process": process_state(vm.proc.pid),
           "status": None, "answers": False, "rtt_ms": None}
    if obs["process"] != "running":
        return obs
    if getattr(vm, "monitor_stuck", False):
        obs["status"] = "monitor stuck"
    else:
        try:
            obs["status"] = vm.qmp.cmd("query-status", timeout=10)["status"]
        except QMPError as exc:
            obs["status"] = f"unknown ({exc})"
            vm.monitor_stuck = "timed out" in str(exc)
    obs["answers"], obs["rtt_ms"] = guest_answers(lab, vm, probe_timeout)
    return obs


def check_at_most_one(lab, when, failures, names=("primary", "secondary")):
    """Observe every copy; record a failure when more than one is live.
    Returns the figures for the summary."""
    observations = [observe(lab, name) for name in names if name in lab.vms]
    figures, failure = verdict(observations, when)
    if failure:
        failures.append(failure)
    lab.event(f"live copies {when}: {len(figures['live'])} "
              f"({', '.join(_short(o) for o in observations)})")
    return figures


def _short(obs):
    """'primary running/answers' for the timeline."""
    if obs["process"] != "running":
        return f"{obs['name']} process {obs['process']}"
    return (f"{obs['name']} {obs['status']}/"
            f"{'answers' if obs['answers'] else 'silent'}")
