#!/usr/bin/env python3
"""make bench: unpatched upstream and the series side by side, in one run.

Configurations, each in a fresh lab: the unreplicated guest on each binary,
then a COLO pair on each binary. Measured from the client namespace: ICMP
round trip, sequential request rate, bulk download throughput; for COLO
pairs also the PVM pause per checkpoint (trace events) and the gap between
killing the primary and the first request served by the secondary.
Upstream's COLO deadlocks under TCG: a pair whose checkpoints stop for
--stall seconds is reported as deadlocked, never waited for.

Writes results/bench/bench-STAMP.{json,md} and prints the table.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

from colo_lab import colo  # noqa: E402
from colo_lab.lab import Lab  # noqa: E402
from colo_lab.qmp import QMPError  # noqa: E402
from colo_lab.report import checkpoint_pauses, first_answer_after, pause_summary  # noqa: E402
from colo_lab.topology import LabError  # noqa: E402

METRICS = (("ping_ms", "ping RTT, ms", "lower"),
           ("requests_per_s", "sequential requests/s", "higher"),
           ("bulk_mib_s", "1 MiB downloads, MiB/s", "higher"),
           ("pause_ms", "PVM pause median, ms", "lower"),
           ("failover_gap_s", "kill to first served request, s", "lower"))


class Deadlocked(Exception):
    pass


def measure_guest(lab, opts):
    res = {"ping_ms": lab.ping(count=opts.pings)}
    rate = json.loads(lab.client("--rate", str(opts.requests), "--first-id", "1000000",
                                 limit=opts.requests * 10 + 60))
    res["requests_per_s"] = rate["requests"] / rate["seconds"]
    bulk = json.loads(lab.client("--bulk", "1024", "--repeat", str(opts.downloads),
                                 timeout=30, limit=opts.downloads * 60 + 60))
    res["bulk_mib_s"] = bulk["bytes"] / 2**20 / bulk["seconds"]
    return res


def run_plain(name, qemu, opts):
    with Lab(f"bench-{name}", qemu, opts.guest, opts.results, verbose=opts.verbose) as lab:
        vm = lab.start_plain()
        lab.wait_guest_ready(vm)
        return measure_guest(lab, opts)


def assert_progress(lab, opts):
    """Fail with Deadlocked when no checkpoint completes within --stall s."""
    start = lab.checkpoints()
    try:
        lab.wait_until("checkpoint", lambda: lab.checkpoints() > start, timeout=opts.stall)
    except LabError as exc:
        raise Deadlocked(f"deadlocked: no checkpoint for {opts.stall:.0f} s "
                         f"after {start} checkpoints") from exc


def run_colo(name, qemu, opts):
    with Lab(f"bench-{name}", qemu, opts.guest, opts.results, verbose=opts.verbose) as lab:
        primary, secondary = lab.start_pair(opts.period)
        ready = lambda: "COLO-GUEST-READY" in primary.serial()  # noqa: E731
        try:
            lab.wait_until("guest boot under COLO", ready, timeout=300,
                           stall=opts.stall, progress=lab.checkpoints)
        except LabError as exc:
            raise Deadlocked(f"deadlocked: {exc}") from exc
        assert_progress(lab, opts)
        try:
            res = measure_guest(lab, opts)
        except LabError:
            assert_progress(lab, opts)
            raise
        assert_progress(lab, opts)
        res["pause_ms"] = pause_summary(checkpoint_pauses(primary.trace_path))["median"]
        res["checkpoints"] = lab.checkpoints()
        work = lab.start_workload(first_id=2000000)
        lab.wait_until("load before the kill", lambda: work.answered() >= 5, timeout=60)
        t_kill = time.time()
        primary.kill()
        colo.failover_on_secondary(secondary)
        colo.wait_colo_ended(secondary)
        lab.wait_until("request after the failover", lambda: work.answered(since=t_kill) >= 1,
                       timeout=60)
        res["failover_gap_s"] = first_answer_after(work.stop(), t_kill)
        return res


def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return f"{a / b:.2f}"
    return "n/a"


def fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}" if v < 100 else f"{v:.0f}"
    return "-" if v is None else str(v)


def table(results):
    cols = ("plain-upstream", "plain-series", "colo-upstream", "colo-series")
    head = ["metric", *cols, "series/upstream (COLO)", "COLO series/plain series"]
    rows = [head, ["---"] * len(head)]
    for key, label, better in METRICS:
        vals = [results[c].get(key) if isinstance(results[c], dict) else None for c in cols]
        rows.append([f"{label} ({better} is better)", *map(fmt, vals),
                     ratio(vals[3], vals[2]), ratio(vals[3], vals[1])])
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    for c in cols:
        if isinstance(results[c], str):
            lines.append(f"\n{c}: {results[c]}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="unpatched qemu-system-x86_64")
    ap.add_argument("--series", required=True, help="patched qemu-system-x86_64")
    ap.add_argument("--guest", required=True)
    ap.add_argument("--results", default="results/bench")
    ap.add_argument("--period", type=int, default=1000)
    ap.add_argument("--stall", type=float, default=20.0)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--downloads", type=int, default=5)
    ap.add_argument("--pings", type=int, default=20)
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()

    results = {}
    for name, fn, qemu in (("plain-upstream", run_plain, opts.upstream),
                           ("plain-series", run_plain, opts.series),
                           ("colo-upstream", run_colo, opts.upstream),
                           ("colo-series", run_colo, opts.series)):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = fn(name, qemu, opts)
        except (Deadlocked, LabError, QMPError) as exc:
            results[name] = str(exc)
        print(f"bench: {name}: {results[name]}", file=sys.stderr, flush=True)

    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(opts.results, exist_ok=True)
    text = (f"# colo-ft bench {stamp}\n\nTCG guests, 2 cores, one run; checkpoint period "
            f"{opts.period} ms.\n\n{table(results)}\n")
    with open(os.path.join(opts.results, f"bench-{stamp}.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(opts.results, f"bench-{stamp}.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if isinstance(results.get("colo-series"), dict) else 1


if __name__ == "__main__":
    sys.exit(main())
