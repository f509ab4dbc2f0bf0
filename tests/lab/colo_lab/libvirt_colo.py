"""COLO driven through libvirt only: `virsh migrate --colo` makes the
running, writing lab domain a protected pair (libvirt_host.py runs one
libvirtd per host)."""

import time

from . import domain_xml as dx
from .libvirt_host import start_hosts
from .libvirt_migrate import (create_image, define_and_start, domstate,
                              max_answer_gap, migrate, wait_guest_ready)
from .report import check_requests, request_summary

COLO_FLAGS = ("--live", "--p2p", "--copy-storage-all", "--colo")


def protect(lab, opts):
    """Start the domain on the primary and protect it on the secondary
    while the client runs; returns (hosts, workload, end of the call)."""
    hosts = start_hosts(lab, opts.libvirt)
    primary, secondary = hosts["primary"], hosts["secondary"]
    for host in hosts.values():
        create_image(lab, host)
    define_and_start(lab, primary, opts, colo_period_ms=opts.period,
                     colo_peer_timeout_ms=opts.peer_timeout or 10000)
    wait_guest_ready(lab, primary)
    work = lab.start_workload()
    lab.wait_until("requests before protection",
                   lambda: work.answered() >= opts.before_kill, timeout=120, stall=60,
                   progress=work.answered)
    _, t1 = migrate(lab, primary, secondary, *COLO_FLAGS)
    return hosts, work, t1


def job_type(host, name=dx.NAME):
    """The 'Job type' line of `virsh domjobinfo`."""
    proc = host.virsh("domjobinfo", name, check=False, timeout=30)
    for line in proc.stdout.splitlines():
        if line.startswith("Job type:"):
            return line.split(":", 1)[1].strip()
    return (proc.stderr or "?").strip()


def libvirt_colo(lab, opts):
    """`virsh migrate --colo` protects the running domain: the call
    returns with the domain running on both hosts, each side keeping its
    migration job; the client is served throughout and while protected
    (--after-kill requests after the call)."""
    hosts, work, t1 = protect(lab, opts)
    lab.wait_until("requests while protected",
                   lambda: work.answered(since=t1) >= opts.after_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t1))
    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "job": {h.name: job_type(h) for h in hosts.values()},
               "running": {h.name: h.running() for h in hosts.values()}}
    records = work.stop()
    summary.update({"protected_s": round(time.time() - t1, 1),
                    "max_answer_gap_s": max_answer_gap(records),
                    "requests": request_summary(records)})
    failures = []
    check_requests(summary, failures)
    for name, host in hosts.items():
        if summary["running"][name] != [dx.NAME]:
            failures.append(f"the {name} runs {summary['running'][name]}")
        if not summary["domstate"][name].startswith("running"):
            failures.append(f"on the {name} the domain is {summary['domstate'][name]}")
        if summary["job"][name] != "Unbounded":
            failures.append(f"on the {name} the job is {summary['job'][name]!r}")
    return summary, failures


SCENARIOS = {"libvirt-colo": libvirt_colo}
