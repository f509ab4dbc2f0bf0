#!/usr/bin/env python3
"""make demo: a protected guest pair in steady state, then the primary
killed: the secondary reports the loss of its primary and waits with its
guest paused; the demo plays management (makes sure the primary is gone,
then sends colo-failover), and the secondary serves the clients. Prints
the timeline as it happens, the failover's steps timed from the kill,
and a short summary at the end."""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_scenario(name, qemu, guest, extra=()):
    print(f"\n== {name} ==", flush=True)
    proc = subprocess.run([sys.executable, os.path.join(HERE, "run.py"), name,
                           "--qemu", qemu, "--guest", guest, *extra],
                          stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {"scenario": name, "ok": False}


def describe(s):
    req = s.get("requests", {})
    p = s.get("pause_ms", {})
    out = [f"{s['scenario']}: {'PASS' if s.get('ok') else 'FAIL'}"]
    if "error" in s:
        out.append(f"  error: {s['error']}")
    if req:
        out.append(f"  checkpoints {s['checkpoints']}, PVM pause ms median/p95/max "
                   f"{p.get('median')}/{p.get('p95')}/{p.get('max')}")
        out.append(f"  requests sent {req['sent']}, answered {req['answered']}, "
                   f"lost {req['lost']}, duplicated {req['duplicated']}")
    st = s.get("colo_stats")
    if st:
        out.append(f"  QEMU's own figures: {st['checkpoints']} checkpoints "
                   f"({st['periodic']} periodic, {st['mismatch']} on mismatch), "
                   f"pause mean/max {st['pause-mean-us'] / 1000:.1f}/"
                   f"{st['pause-max-us'] / 1000:.1f} ms")
    if s.get("peer_lost_after_s") is not None:
        out.append(f"  the secondary reported the loss of its primary "
                   f"{s['peer_lost_after_s']} s after the kill and waited for management")
    if "failover_gap_s" in s:
        out.append(f"  first request served {s['failover_gap_s']} s after the kill; "
                   f"disk marker {'read back' if s['disk_marker']['ok'] else 'LOST'}")
    for f in s.get("failures", []):
        out.append(f"  failure: {f}")
    return "\n".join(out)


def timeline(s):
    """[(seconds since the run's start, text)] of a run (its timeline.json)."""
    try:
        with open(os.path.join(s.get("rundir", ""), "timeline.json")) as f:
            return [(t, text) for t, text in json.load(f)]
    except (OSError, ValueError):
        return []


def failover_story(s):
    """The steps from the kill on, each with its time since the kill."""
    steps = timeline(s)
    t_kill = next((t for t, text in steps if "killed" in text), None)
    if t_kill is None:
        return "  (no kill in the timeline)"
    out = [f"  {'since the kill':>14}  step"]
    for t, text in steps:
        if t >= t_kill:
            out.append(f"  {t - t_kill:+13.2f}s  {text}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--guest", required=True)
    opts = ap.parse_args()
    results = [run_scenario("steady", opts.qemu, opts.guest),
               run_scenario("kill-primary", opts.qemu, opts.guest)]
    print("\n== the failover, step by step ==")
    print(failover_story(results[1]))
    print("\n== summary ==")
    for s in results:
        print(describe(s))
    for s in results:
        print(json.dumps(s))
    return 0 if all(s.get("ok") for s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
