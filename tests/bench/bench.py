#!/usr/bin/env python3
"""make bench: the series' network proxies side by side, in one run.

Configurations on the series' QEMU, each in a fresh lab: the unreplicated
guest, a COLO pair with upstream's userspace proxy (colo-compare with
filter-mirror/-redirector/-rewriter) and a COLO pair with colo-nic (the
host kernel's path, NFQUEUE). With --upstream, also the unreplicated
guest and a COLO pair on unpatched upstream. Measured from the client
namespace: ICMP round trip, sequential request rate and the host CPU time
(all cores, /proc/stat) spent per request meanwhile, bulk download
throughput (1 MiB downloads); for COLO pairs also checkpoints per minute
while measuring (and how many a mismatch triggered), the PVM pause per
checkpoint (trace events) and the gap between killing the primary and
the first request served by the secondary. Upstream's COLO deadlocks
under TCG: a pair whose checkpoints stop for --stall seconds is reported
as deadlocked, never waited for. With --baseline, the COLO pairs also run
on an earlier build of the series (the same series without the change
under test, say), and the table gives the series' figures over the
baseline's.

Writes results/bench/bench-STAMP.{json,md} and prints the table.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

from colo_lab import colo, nic  # noqa: E402
from colo_lab.lab import Lab  # noqa: E402
from colo_lab.qemu import Net  # noqa: E402
from colo_lab.qmp import QMPError  # noqa: E402
from colo_lab.report import checkpoint_pauses, first_answer_after, pause_summary  # noqa: E402
from colo_lab.scenarios import colo_stats  # noqa: E402
from colo_lab.topology import LabError  # noqa: E402

METRICS = (("ping_ms", "ping RTT, ms", "lower"),
           ("requests_per_s", "sequential requests/s", "higher"),
           ("cpu_ms_per_request", "host CPU per request (all cores), ms", "lower"),
           ("bulk_mib_s", "1 MiB downloads, MiB/s", "higher"),
           ("checkpoints_per_min", "checkpoints per minute while measuring", "lower"),
           ("mismatch_checkpoints", "of which triggered by a mismatch", "lower"),
           ("pause_ms", "PVM pause median, ms", "lower"),
           ("failover_gap_s", "kill to first served request, s", "lower"))


class Deadlocked(Exception):
    pass


def host_busy_s():
    """CPU seconds all of this host's cores spent busy (not idle or
    waiting for I/O) since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure_guest(lab, opts):
    res = {"ping_ms": lab.ping(count=opts.pings)}
    busy0 = host_busy_s()
    rate = json.loads(lab.client("--rate", str(opts.requests), "--first-id", "1000000",
                                 limit=opts.requests * 10 + 60))
    res["requests_per_s"] = rate["requests"] / rate["seconds"]
    res["cpu_ms_per_request"] = (host_busy_s() - busy0) * 1000 / rate["requests"]
    bulk = json.loads(lab.client("--bulk", "1024", "--repeat", str(opts.downloads),
                                 timeout=30, limit=opts.downloads * 60 + 60))
    res["bulk_mib_s"] = bulk["bytes"] / 2**20 / bulk["seconds"]
    return res


def run_plain(name, qemu, opts, net):
    with Lab(f"bench-{name}", qemu, opts.guest, opts.results, verbose=opts.verbose,
             net=net) as lab:
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


def run_colo(name, qemu, opts, net):
    with Lab(f"bench-{name}", qemu, opts.guest, opts.results, verbose=opts.verbose,
             net=net) as lab:
        # upstream knows only x-colo
        primary, secondary = lab.start_pair(opts.period, "x-colo")
        ready = lambda: "COLO-GUEST-READY" in primary.serial()  # noqa: E731
        try:
            lab.wait_until("guest boot under COLO", ready, timeout=300,
                           stall=opts.stall, progress=lab.checkpoints)
        except LabError as exc:
            raise Deadlocked(f"deadlocked: {exc}") from exc
        assert_progress(lab, opts)
        t0, start, stats0 = time.monotonic(), lab.checkpoints(), colo_stats(primary)
        try:
            res = measure_guest(lab, opts)
        except LabError:
            assert_progress(lab, opts)
            raise
        res["checkpoints_per_min"] = (lab.checkpoints() - start) / (time.monotonic() - t0) * 60
        if net.proxy == "nic":
            res["colo_nic"] = {"primary": nic.counters(primary),
                               "secondary": nic.counters(secondary)}
        stats = colo_stats(primary)
        if stats0 is not None and stats is not None:
            res["mismatch_checkpoints"] = stats["mismatch"] - stats0["mismatch"]
        assert_progress(lab, opts)
        res["pause_ms"] = pause_summary(checkpoint_pauses(primary.trace_path))["median"]
        res["checkpoints"] = lab.checkpoints()
        work = lab.start_workload(first_id=2000000)
        lab.wait_until("load before the kill", lambda: work.answered() >= 5, timeout=60)
        t_kill = time.time()
        primary.kill()
        colo.failover_on_secondary(secondary, primary, net.proxy)
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


# Columns of the table, then ratios: (label, numerator, denominator)
SERIES = ("plain-series", "colo-compare-series", "colo-nic-series")
UPSTREAM = ("plain-upstream", "colo-upstream")
RATIOS = (("colo-compare/plain", "colo-compare-series", "plain-series"),
          ("colo-nic/plain", "colo-nic-series", "plain-series"),
          ("colo-nic/colo-compare", "colo-nic-series", "colo-compare-series"))
UPSTREAM_RATIOS = (("colo-compare series/upstream", "colo-compare-series", "colo-upstream"),)
BASELINE = ("colo-compare-baseline", "colo-nic-baseline")
BASELINE_RATIOS = (("colo-compare series/baseline", "colo-compare-series",
                    "colo-compare-baseline"),
                   ("colo-nic series/baseline", "colo-nic-series", "colo-nic-baseline"))


def combine(rounds):
    """One configuration's result from its rounds: the mean of each metric
    (each round's values kept under "rounds"); a failed round fails it."""
    for r in rounds:
        if not isinstance(r, dict):
            return r
    res = {}
    for key in rounds[0]:
        vals = [r[key] for r in rounds if isinstance(r.get(key), (int, float))]
        res[key] = statistics.mean(vals) if vals else None
    res["rounds"] = rounds
    return res


def table(results):
    cols = [c for c in UPSTREAM + BASELINE + SERIES if c in results]
    ratios = (RATIOS + (UPSTREAM_RATIOS if "colo-upstream" in results else ()) +
              (BASELINE_RATIOS if BASELINE[0] in results else ()))
    head = ["metric", *cols, *(label for label, _, _ in ratios)]
    rows = [head, ["---"] * len(head)]
    for key, label, better in METRICS:
        val = {c: results[c].get(key) if isinstance(results[c], dict) else None for c in cols}
        rows.append([f"{label} ({better} is better)", *(fmt(val[c]) for c in cols),
                     *(ratio(val[a], val[b]) for _, a, b in ratios)])
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    for c in cols:
        if isinstance(results[c], str):
            lines.append(f"\n{c}: {results[c]}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", required=True, help="patched qemu-system-x86_64")
    ap.add_argument("--upstream", help="unpatched qemu-system-x86_64: compare with it too")
    ap.add_argument("--baseline", help="an earlier build of the series: its COLO pairs "
                    "run too, and the table compares the series with it")
    ap.add_argument("--guest", required=True)
    ap.add_argument("--proxy-script",
                    help="colo-proxy-script.sh (default: scripts/ of the --series tree)")
    ap.add_argument("--results", default="results/bench")
    ap.add_argument("--period", type=int, default=1000)
    ap.add_argument("--stall", type=float, default=20.0)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--downloads", type=int, default=5)
    ap.add_argument("--pings", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2,
                    help="runs of each configuration, interleaved (A B C A B C); "
                         "the table shows their mean")
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()

    nic_net = Net(proxy="nic", script=opts.proxy_script or nic.default_script(opts.series))
    runs = [("plain-series", run_plain, opts.series, Net()),
            ("colo-compare-series", run_colo, opts.series, Net()),
            ("colo-nic-series", run_colo, opts.series, nic_net)]
    if opts.baseline:
        runs += [("colo-compare-baseline", run_colo, opts.baseline, Net()),
                 ("colo-nic-baseline", run_colo, opts.baseline, nic_net)]
    if opts.upstream:
        runs = [("plain-upstream", run_plain, opts.upstream, Net()),
                ("colo-upstream", run_colo, opts.upstream, Net())] + runs
    rounds = {name: [] for name, _, _, _ in runs}
    for n in range(1, opts.rounds + 1):
        for name, fn, qemu, net in runs:
            print(f"bench: {name} round {n} ...", file=sys.stderr, flush=True)
            try:
                res = fn(name, qemu, opts, net)
            except (Deadlocked, LabError, QMPError) as exc:
                res = str(exc)
            rounds[name].append(res)
            print(f"bench: {name} round {n}: {res}", file=sys.stderr, flush=True)
    results = {name: combine(r) for name, r in rounds.items()}

    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(opts.results, exist_ok=True)
    text = (f"# colo-ft bench {stamp}\n\nTCG guests, 2 cores; each configuration run "
            f"{opts.rounds} times, interleaved, mean shown; checkpoint period "
            f"{opts.period} ms.\n\n{table(results)}\n")
    with open(os.path.join(opts.results, f"bench-{stamp}.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(opts.results, f"bench-{stamp}.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if all(isinstance(results[c], dict) for c in SERIES) else 1


if __name__ == "__main__":
    sys.exit(main())
