"""Lab scenarios driven through libvirt only (virsh against one libvirtd
per host, libvirt_host.py). libvirt-migrate proves the harness with a
plain live migration with non-shared storage, under client load."""

import os
import re
import time

from . import domain_xml as dx
from .qemu import DISK_SIZE, qemu_img
from .libvirt_host import start_hosts
from .report import check_requests, request_summary
from .topology import LabError


def create_image(lab, host):
    """The guest's empty qcow2 at the domain's disk path on host (each
    host has its own /var/lib/libvirt)."""
    path = host.path("lib", "images", os.path.basename(dx.IMAGE))
    qemu_img(lab.qemu, "create", "-q", "-f", "qcow2", path, DISK_SIZE)


def define_and_start(lab, host, opts, **xml_args):
    """Define the lab guest on host from a generated XML and start it."""
    xml = os.path.join(lab.rundir, f"{dx.NAME}.xml")
    with open(xml, "w") as f:
        f.write(dx.domain_xml(lab.qemu, lab.guest, dirty_kbps=opts.dirty_kbps, **xml_args))
    host.virsh("define", xml)
    host.virsh("start", dx.NAME)
    lab.event(f"domain {dx.NAME} defined and started on the {host.name}")


def wait_guest_ready(lab, host, timeout=180.0):
    """Wait for the guest's READY line in its serial log on host."""
    serial = host.path("log", "qemu", os.path.basename(dx.SERIAL))

    def ready():
        try:
            with open(serial, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return False
        if "COLO-GUEST-ERROR" in text:
            line = text.split("COLO-GUEST-ERROR", 1)[1].splitlines()[0]
            raise LabError(f"guest on {host.name} reports an error:{line}")
        return "COLO-GUEST-READY" in text

    lab.wait_until(f"guest ready on the {host.name}", ready, timeout)
    lab.event(f"guest ready on the {host.name}")


def domstate(host, name=dx.NAME):
    """`virsh domstate --reason`, or virsh's error."""
    proc = host.virsh("domstate", "--reason", name, check=False, timeout=30)
    return (proc.stdout or proc.stderr).strip()


def completed_job(host, name=dx.NAME):
    """The figures of `virsh domjobinfo --completed` in ms ({} if none)."""
    proc = host.virsh("domjobinfo", "--completed", name, check=False, timeout=30)
    figures = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^(Time elapsed|Total downtime|Data processed|Memory processed"
                     r"|Iteration):\s+(\S+)(?:\s+(\S+))?", line)
        if m:
            figures[m.group(1).lower().replace(" ", "_")] = \
                " ".join(g for g in m.group(2, 3) if g)
    return figures


def max_answer_gap(records):
    """Longest time between two consecutive answers, s."""
    times = sorted(r["answered"] for r in records if "answered" in r)
    return round(max((b - a for a, b in zip(times, times[1:])), default=0.0), 3)


def migrate(lab, source, dest, *flags, timeout=600.0):
    """virsh migrate from source to dest's daemon over ft0; the output
    goes to migrate.log; returns (start, end) wall clock."""
    args = ["migrate", *flags, "--verbose", dx.NAME, dest.remote_uri]
    lab.event(f"virsh -c '{source.uri}' {' '.join(args)}")
    t0 = time.time()
    proc = source.virsh(*args, check=False, timeout=timeout)
    t1 = time.time()
    with open(os.path.join(lab.rundir, "migrate.log"), "w") as f:
        f.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        err = [line for line in proc.stderr.splitlines() if line.strip()]
        raise LabError(f"virsh migrate: {err[-1] if err else proc.returncode}")
    lab.event(f"migration done in {t1 - t0:.2f} s", at=t1)
    return t0, t1


def libvirt_migrate(lab, opts):
    """The guest defined and started by the primary's libvirtd migrates
    live (p2p, copying its disk) to the secondary's while the client
    runs: it runs on the secondary, not on the primary, and every request
    is answered. --before-kill and --after-kill: requests answered before
    the migration and after it."""
    hosts = start_hosts(lab, opts.libvirt)
    primary, secondary = hosts["primary"], hosts["secondary"]
    for host in hosts.values():
        create_image(lab, host)
    define_and_start(lab, primary, opts)
    wait_guest_ready(lab, primary)
    work = lab.start_workload()
    lab.wait_until("requests before the migration",
                   lambda: work.answered() >= opts.before_kill, timeout=120, stall=60,
                   progress=work.answered)
    lab.event(f"{work.answered()} requests answered on the primary")
    t0, t1 = migrate(lab, primary, secondary, "--live", "--p2p", "--copy-storage-all")
    lab.wait_until("requests after the migration",
                   lambda: work.answered(since=t1) >= opts.after_kill, timeout=120,
                   stall=60, progress=lambda: work.answered(since=t1))
    records = work.stop()
    lab.event(f"{len(records)} requests sent, {sum('answered' in r for r in records)} answered")

    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "uris": {h.name: h.uri for h in hosts.values()},
               "migration_s": round(t1 - t0, 2),
               "migration_job": completed_job(primary),
               "answered_during_migration": sum(
                   1 for r in records if t0 < r.get("answered", 0) <= t1),
               "max_answer_gap_s": max_answer_gap(records),
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "running": {h.name: h.running() for h in hosts.values()},
               "requests": request_summary(records)}
    failures = []
    check_requests(summary, failures)
    if summary["running"]["secondary"] != [dx.NAME]:
        failures.append(f"the secondary runs {summary['running']['secondary']}, "
                        f"not [{dx.NAME!r}]")
    if summary["running"]["primary"]:
        failures.append(f"the primary still runs {summary['running']['primary']}")
    if not summary["domstate"]["primary"].startswith("shut off"):
        failures.append(f"on the primary the domain is {summary['domstate']['primary']}")
    if not summary["domstate"]["secondary"].startswith("running"):
        failures.append(f"on the secondary the domain is {summary['domstate']['secondary']}")
    if summary["answered_during_migration"] == 0:
        failures.append("no request answered while the migration ran")
    return summary, failures


SCENARIOS = {"libvirt-migrate": libvirt_migrate}
