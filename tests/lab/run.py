#!/usr/bin/env python3
"""Run one lab scenario; the last line printed is its JSON summary.

  run.py SCENARIO --qemu PATH --guest DIR [options]

Scenarios steady, kill-primary, kill-secondary and the fault scenarios
(partition, primary-frozen, cancel, primary-failover, large-checkpoints)
use upstream's userspace proxy (colo-compare); nic-steady, nic-mismatch,
nic-kill-primary, nic-kill-secondary, nic-multiqueue, nic-chatter,
nic-firewall-kill-primary, nic-firewall-kill-secondary and
nic-failover-hang use colo-nic with
--proxy-script (default: scripts/colo-proxy-script.sh of the QEMU tree).
protect-running and reprotect-cycles protect a guest that runs and
writes (colo-compare). libvirt-migrate drives a guest through virsh only,
one libvirtd per host (--libvirt: the libvirt build directory).

Exit status: 0 passed, 1 failed, 2 the lab could not run.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from colo_lab import nic  # noqa: E402
from colo_lab.lab import Lab  # noqa: E402
from colo_lab.libvirt_host import DEFAULT_BUILD as DEFAULT_LIBVIRT_BUILD  # noqa: E402
from colo_lab.qemu import Net  # noqa: E402
from colo_lab.qmp import QMPError  # noqa: E402
from colo_lab.scenarios import NETS, SCENARIOS  # noqa: E402
from colo_lab.topology import LabError  # noqa: E402


def qemu_built(path):
    """When the QEMU binary was last written (it may be rebuilt between
    runs): local time, to the second."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(path).st_mtime))
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--guest", required=True, help="directory with vmlinuz and initrd.img")
    ap.add_argument("--results", default="results/lab")
    ap.add_argument("--capability", default="colo",
                    help="colo, or the deprecated alias x-colo")
    ap.add_argument("--period", type=int, default=1000, help="checkpoint period, ms")
    ap.add_argument("--checkpoints", type=int, default=30)
    ap.add_argument("--before-kill", type=int, default=20)
    ap.add_argument("--after-kill", type=int, default=20)
    ap.add_argument("--max-gap", type=float, default=2.0)
    ap.add_argument("--dirty-kbps", type=int, default=0,
                    help="guest memory dirtier rate, KiB/s "
                         "(large-checkpoints: default 200000, set once COLO runs)")
    ap.add_argument("--peer-timeout", type=int, default=0,
                    help="fault scenarios: colo-peer-timeout on both sides, ms "
                         "(default: the scenario's, 2000; large-checkpoints 1000)")
    ap.add_argument("--duration", type=int, default=0,
                    help="large-checkpoints: seconds of dirtying watched (default 60)")
    ap.add_argument("--load-delay", type=int, default=None,
                    help="large-checkpoints: the secondary waits this long (ms) before "
                         "loading each checkpoint (default 2.5x colo-peer-timeout; 0: no wait)")
    ap.add_argument("--requests", type=int, default=10,
                    help="nic-mismatch: requests whose answers differ")
    ap.add_argument("--cycles", type=int, default=10,
                    help="reprotect-cycles: failovers, each followed by a new protection")
    ap.add_argument("--max-pause-ms", type=float, default=0,
                    help="protect-running, reprotect-cycles: longest the switchover "
                         "(last RAM and devices, COLO's start) may stop the guest "
                         "when a running guest is brought into COLO "
                         "(default: the migration's downtime-limit)")
    ap.add_argument("--proxy-script",
                    help="colo-nic scenarios: colo-proxy-script.sh "
                         "(default: scripts/ of the QEMU tree of --qemu)")
    ap.add_argument("--libvirt", default=DEFAULT_LIBVIRT_BUILD,
                    help="libvirt-* scenarios: the uninstalled libvirt build directory "
                         "(default %(default)s)")
    ap.add_argument("--quiet", action="store_true")
    opts = ap.parse_args()
    net = Net(script=opts.proxy_script or nic.default_script(opts.qemu),
              **NETS.get(opts.scenario, {}))

    summary = {"scenario": opts.scenario}
    try:
        with Lab(opts.scenario, opts.qemu, opts.guest, opts.results,
                 verbose=not opts.quiet, net=net) as lab:
            try:
                summary, failures = SCENARIOS[opts.scenario](lab, opts)
            finally:
                with open(os.path.join(lab.rundir, "timeline.json"), "w") as f:
                    steps = sorted(lab.timeline, key=lambda step: step[0])
                    json.dump([[t - lab.t0, text] for t, text in steps], f, indent=1)
    except (LabError, QMPError) as exc:
        summary.update(ok=False, error=str(exc))
        print(f"lab: error: {exc}", file=sys.stderr)
        print(json.dumps(summary))
        return 2 if isinstance(exc, LabError) and "unavailable" in str(exc) else 1
    except KeyboardInterrupt:
        print("lab: interrupted; everything it created was removed", file=sys.stderr)
        return 130
    summary["qemu_built"] = qemu_built(opts.qemu)
    summary["ok"] = not failures
    summary["failures"] = failures
    with open(os.path.join(summary["rundir"], "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
