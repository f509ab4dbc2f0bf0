"""COLO driven through libvirt only: `virsh migrate --colo` makes the
running, writing lab domain a protected pair (libvirt_host.py runs one
libvirtd per host)."""

import json
import re
import time

from . import domain_xml as dx
from .libvirt_host import start_hosts
from .libvirt_migrate import (create_image, define_and_start, domstate,
                              max_answer_gap, migrate, wait_guest_ready)
from .protection import check_records, read_records
from .report import check_requests, request_summary
from .topology import LabError

COLO_FLAGS = ("--live", "--p2p", "--copy-storage-all", "--colo")
# libvirtd ends at once when nothing it waits for is stuck; its own
# shutdown timeout is 30 s (virNetDaemonRun)
SHUTDOWN_MAX_S = 10
DAEMON_RESTARTS = 20
# A job the COLO job does not allow fails at once (it would wait 30 s)
REFUSAL_MAX_S = 5


def protect(lab, opts):
    """Start the domain on the primary and protect it on the secondary
    while the client runs; returns (hosts, workload, end of the call)."""
    hosts = start_hosts(lab, opts.libvirt)
    primary, secondary = hosts["primary"], hosts["secondary"]
    lab.events = {h.name: h.watch_events(lab) for h in hosts.values()}
    for host in hosts.values():
        create_image(lab, host)
    define_and_start(lab, primary, opts, records=True, colo_period_ms=opts.period,
                     colo_peer_timeout_ms=opts.peer_timeout or 10000)
    wait_guest_ready(lab, primary)
    work = lab.start_workload()
    lab.wait_until("requests before protection",
                   lambda: work.answered() >= opts.before_kill, timeout=120, stall=60,
                   progress=work.answered)
    _, t1 = migrate(lab, primary, secondary, *COLO_FLAGS)
    report_pair(lab, primary, secondary)
    return hosts, work, t1


def report_pair(lab, primary, secondary):
    """What virsh shows of a protected pair, on the timeline."""
    for host in (primary, secondary):
        info = job_info(host)
        lab.event(f"on the {host.name}: {domstate(host)}; domjobinfo: "
                  f"{info.get('Job type')}, COLO role {info.get('COLO role')}, "
                  f"{info.get('COLO checkpoints', '0')} checkpoints")


def taints(hosts, name=dx.NAME):
    """The 'tainted' lines of the domain's QEMU logs on each host: none
    when only libvirt's own interfaces drove it."""
    found = []
    for host in hosts.values():
        try:
            with open(host.path("log", "qemu", f"{name}.log"), errors="replace") as f:
                found += [f"{host.name}: {line.strip()}" for line in f if "tainted" in line]
        except FileNotFoundError:
            pass
    return found


def check_untainted(hosts, failures):
    failures += [f"domain tainted: {line}" for line in taints(hosts)]


def job_info(host, *flags, name=dx.NAME):
    """`virsh domjobinfo` as {label: value}, or {"error": ...}."""
    proc = host.virsh("domjobinfo", *flags, name, check=False, timeout=30)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()}
    return {label.strip(): value.strip() for label, _, value in
            (line.partition(":") for line in proc.stdout.splitlines()) if value}


def job_type(host, name=dx.NAME):
    """The 'Job type' of `virsh domjobinfo`, or its error."""
    info = job_info(host, name=name)
    return info.get("Job type", info.get("error", "?"))


def colo_checkpoints(info):
    """The COLO checkpoints count of a job_info(), 0 if absent."""
    return int(info.get("COLO checkpoints", "0").split()[0])


def colo_status_element(host, name=dx.NAME):
    """The <colo> element of the domain's status XML on host, or ''."""
    try:
        with open(host.path("run", "qemu", f"{name}.xml"), errors="replace") as f:
            found = re.search(r"<colo\b[^>]*/>|<colo\b[^>]*>.*?</colo>", f.read(), re.S)
    except FileNotFoundError:
        return ""
    return " ".join(found.group(0).split()) if found else ""


def libvirt_colo(lab, opts):
    """`virsh migrate --colo` protects the running domain: the call
    returns with the domain running on both hosts, each side keeping its
    migration job; the client is served throughout and while protected
    (--after-kill requests after the call). A `stop` through the monitor
    on the primary shows as paused, its `cont` as running: libvirt hides
    only the stops of checkpoints."""
    hosts, work, t1 = protect(lab, opts)
    lab.wait_until("requests while protected",
                   lambda: work.answered(since=t1) >= opts.after_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t1))
    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "refused": {h.name: refused_while_protected(h) for h in hosts.values()},
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "job": {h.name: job_info(h) for h in hosts.values()},
               "running": {h.name: h.running() for h in hosts.values()}}
    failures = []
    # Before the monitor passthrough below, which taints the domain
    check_untainted(hosts, failures)
    summary["stop_through_monitor"] = stop_through_monitor(lab, hosts["primary"])
    records = work.stop()
    summary.update({"protected_s": round(time.time() - t1, 1),
                    "max_answer_gap_s": max_answer_gap(records),
                    "requests": request_summary(records)})
    check_requests(summary, failures)
    check_stop_through_monitor(summary["stop_through_monitor"], failures)
    for name, host in hosts.items():
        if summary["running"][name] != [dx.NAME]:
            failures.append(f"the {name} runs {summary['running'][name]}")
        if not summary["domstate"][name].startswith("running"):
            failures.append(f"on the {name} the domain is {summary['domstate'][name]}")
        job = summary["job"][name]
        if job.get("Job type") != "Unbounded" or job.get("COLO role") != name:
            failures.append(f"on the {name} the job is {job}")
        if colo_checkpoints(job) < 1:
            failures.append(f"no COLO checkpoint counted on the {name}")
        refused = summary["refused"][name]
        if "COLO pair" not in refused["error"] or refused["seconds"] > REFUSAL_MAX_S:
            failures.append(f"on the {name} virsh suspend was not refused at once: "
                            f"{refused}")
    return summary, failures


# How long libvirt may take to report a stop it did not ask for
STOP_REPORT_MAX_S = 10.0


def stop_through_monitor(lab, host):
    """`stop`, then `cont`, through `virsh qemu-monitor-command` on a
    protected side. libvirt hides the stops of COLO's checkpoints: it
    must still report this one, and the guest running again after it.
    The domain states seen after each."""
    seen = {}
    for command, want in (("stop", "paused"), ("cont", "running (colo primary)")):
        monitor_command(host, command)
        try:
            wait_domstate(lab, host, want, timeout=STOP_REPORT_MAX_S)
        except LabError:
            pass
        seen[command] = domstate(host)
    # At once one after the other: an answer to the stop's query that
    # comes after the cont must not leave the domain shown paused
    monitor_command(host, "stop")
    monitor_command(host, "cont")
    time.sleep(2)
    seen["stop-cont"] = domstate(host)
    return seen


def monitor_command(host, command):
    host.virsh("qemu-monitor-command", dx.NAME, json.dumps({"execute": command}))


def check_stop_through_monitor(seen, failures):
    if not seen["stop"].startswith("paused"):
        failures.append(f"after 'stop' through the monitor the primary is {seen['stop']}")
    for step in ("cont", "stop-cont"):
        if seen[step] != "running (colo primary)":
            failures.append(f"after '{step}' through the monitor the primary is "
                            f"{seen[step]}")


def refused_while_protected(host):
    """`virsh suspend` on a protected side: a job the COLO job does not
    allow. It must fail at once, not wait for the pair's job to end."""
    t0 = time.monotonic()
    proc = host.virsh("suspend", dx.NAME, check=False, timeout=60)
    error = " ".join((proc.stderr or "").split()) if proc.returncode else "accepted"
    return {"error": error, "seconds": round(time.monotonic() - t0, 1)}


def wait_domstate(lab, host, prefix, timeout=60.0):
    """Wait until `virsh domstate --reason` on host starts with prefix."""
    lab.wait_until(f"domain {prefix!r} on the {host.name}",
                   lambda: domstate(host).startswith(prefix), timeout)
    lab.event(f"on the {host.name}: {domstate(host)}")


def check_events(name, text, expected, failures):
    """Each of expected (substrings of `virsh event` lines) is in text,
    in that order."""
    at = 0
    for want in expected:
        found = text.find(want, at)
        if found < 0:
            failures.append(f"events on the {name}: no {want!r} (after offset {at})")
            return
        at = found + len(want)


def libvirt_colo_failover(lab, opts):
    """The primary's host dies (its QEMU is killed) while the client runs:
    the secondary pauses and waits ('colo peer lost'); the lab's
    management step makes sure the primary is gone, then runs `virsh
    domjobabort --colo-failover` on the secondary, which takes over and
    answers every request."""
    hosts, work, t1 = protect(lab, opts)
    primary, secondary = hosts["primary"], hosts["secondary"]
    lab.wait_until("requests while protected",
                   lambda: work.answered(since=t1) >= opts.before_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t1))
    failures = []
    t_kill = time.time()
    t_failover = fail_over(lab, opts, primary, secondary, failures)
    lab.wait_until("requests after the failover",
                   lambda: work.answered(since=t_failover) >= opts.after_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t_failover))
    records = work.stop()
    time.sleep(1)  # the last events reach virsh event
    check_events("secondary", lab.events["secondary"](),
                 ["lifecycle' for domain 'colo-lab': Started Migrated",
                  "lifecycle' for domain 'colo-lab': Resumed COLO",
                  "lifecycle' for domain 'colo-lab': Suspended COLO peer lost",
                  "lifecycle' for domain 'colo-lab': Resumed COLO ended",
                  "job-completed' for domain 'colo-lab'"], failures)
    check_events("primary", lab.events["primary"](),
                 ["lifecycle' for domain 'colo-lab': Resumed COLO",
                  "lifecycle' for domain 'colo-lab': Stopped Failed"], failures)
    # the takeover is one event, "Resumed COLO ended"
    if "Resumed Unpaused" in lab.events["secondary"]():
        failures.append("events on the secondary: 'Resumed Unpaused' at the takeover")
    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "job": {h.name: job_type(h) for h in hosts.values()},
               "completed_job": job_info(secondary, "--completed", "--anystats"),
               "running": {h.name: h.running() for h in hosts.values()},
               "kill_to_failover_s": round(t_failover - t_kill, 1),
               "max_answer_gap_s": max_answer_gap(records),
               "requests": request_summary(records)}
    check_requests(summary, failures)
    check_untainted(hosts, failures)
    if summary["running"] != {"primary": [], "secondary": [dx.NAME]}:
        failures.append(f"running: {summary['running']}")
    if not summary["domstate"]["secondary"].startswith("running"):
        failures.append(f"on the secondary the domain is {summary['domstate']['secondary']}")
    if summary["job"]["secondary"] != "None":
        failures.append(f"on the secondary the job is {summary['job']['secondary']!r}")
    done = summary["completed_job"]
    if done.get("COLO role") != "secondary" or done.get("COLO survivor") != "yes" or \
            done.get("COLO ended by") != "error":
        failures.append(f"the secondary's completed job: {done}")
    return summary, failures


def libvirt_colo_kill_secondary(lab, opts):
    """The secondary's host dies (its QEMU is killed) while the client
    runs: the primary goes on unprotected on its own, its job ends, and
    every request is answered."""
    hosts, work, t1 = protect(lab, opts)
    primary, secondary = hosts["primary"], hosts["secondary"]
    lab.wait_until("requests while protected",
                   lambda: work.answered(since=t1) >= opts.before_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t1))
    t_kill = time.time()
    if secondary.kill_qemu(dx.NAME) != 1:
        raise LabError("no QEMU of the domain to kill on the secondary")
    lab.event("secondary's QEMU killed", at=t_kill)
    lab.wait_until("the primary's job ended",
                   lambda: job_type(primary) == "None",
                   timeout=30 + (opts.peer_timeout or 10000) / 1000)
    lab.event(f"on the primary: {domstate(primary)}, job ended")
    lab.wait_until("requests after the loss",
                   lambda: work.answered(since=t_kill) >= opts.after_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t_kill))
    records = work.stop()
    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "completed_job": job_info(primary, "--completed"),
               "running": {h.name: h.running() for h in hosts.values()},
               "max_answer_gap_s": max_answer_gap(records),
               "requests": request_summary(records)}
    failures = []
    check_requests(summary, failures)
    check_untainted(hosts, failures)
    if summary["running"] != {"primary": [dx.NAME], "secondary": []}:
        failures.append(f"running: {summary['running']}")
    if summary["domstate"]["primary"] != "running (unpaused)":
        failures.append(f"on the primary the domain is {summary['domstate']['primary']}")
    return summary, failures


def libvirt_colo_restart(lab, opts):
    """libvirtd restarts on both hosts while the pair runs (and
    checkpoints): each side comes back with its role, its job and its
    statistics; then the primary's host dies and the failover through
    virsh works as without the restart. Every request is answered."""
    hosts, work, t1 = protect(lab, opts)
    primary, secondary = hosts["primary"], hosts["secondary"]
    lab.wait_until("checkpoints before the restarts",
                   lambda: all(colo_checkpoints(job_info(h)) >= 2 for h in hosts.values()),
                   timeout=120)
    before = {h.name: colo_checkpoints(job_info(h)) for h in hosts.values()}
    shutdown_s = {}
    for host in hosts.values():
        shutdown_s[host.name] = round(host.restart(), 1)
        lab.event(f"libvirtd restarted on the {host.name} "
                  f"(ended in {shutdown_s[host.name]} s)")
    after = {h.name: {"domstate": domstate(h), "job": job_info(h),
                      "status": colo_status_element(h)} for h in hosts.values()}
    lab.wait_until("requests after the restarts",
                   lambda: work.answered(since=t1) >= opts.before_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t1))
    failures = []
    t_failover = fail_over(lab, opts, primary, secondary, failures)
    lab.wait_until("requests after the failover",
                   lambda: work.answered(since=t_failover) >= opts.after_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t_failover))
    records = work.stop()
    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "checkpoints_before_restart": before, "after_restart": after,
               "shutdown_s": shutdown_s,
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "running": {h.name: h.running() for h in hosts.values()},
               "max_answer_gap_s": max_answer_gap(records),
               "requests": request_summary(records)}
    check_requests(summary, failures)
    check_untainted(hosts, failures)
    for name, seconds in shutdown_s.items():
        if seconds > SHUTDOWN_MAX_S:
            failures.append(f"libvirtd on the {name} took {seconds} s to end: "
                            f"{hosts[name].slow_shutdown}")
    for name, seen in after.items():
        if seen["domstate"] != f"running (colo {name})":
            failures.append(f"after the restart the {name} is {seen['domstate']}")
        if seen["job"].get("COLO role") != name or \
                colo_checkpoints(seen["job"]) < before[name]:
            failures.append(f"after the restart the {name}'s job is {seen['job']}")
    # the secondary's NBD export stays until its takeover: libvirt keeps its port
    if "nbdPort=" not in after["secondary"]["status"]:
        failures.append(f"after the restart the secondary's status XML lost its NBD "
                        f"port: {after['secondary']['status']}")
    if summary["running"] != {"primary": [], "secondary": [dx.NAME]}:
        failures.append(f"running: {summary['running']}")
    return summary, failures


def fail_over(lab, opts, dead, survivor, failures):
    """dead's host dies; the survivor waits, management makes sure dead is
    gone and fails over; returns the time of the failover. Every record
    the guest wrote to its disk (as a client saw it count them before the
    kill) is on the survivor's disk, else a failure is added."""
    seen = read_records(lab)["written"]
    t_kill = time.time()
    if dead.kill_qemu(dx.NAME) != 1:
        raise LabError(f"no QEMU of the domain to kill on the {dead.name}")
    lab.event(f"{dead.name}'s QEMU killed", at=t_kill)
    wait_domstate(lab, survivor, "paused (colo peer lost)",
                  timeout=30 + (opts.peer_timeout or 10000) / 1000)
    # fenced: the dead side's domain no longer runs (a transient one is gone)
    lab.wait_until(f"the domain stopped on the {dead.name}",
                   lambda: dx.NAME not in dead.running(), timeout=60)
    survivor.virsh("domjobabort", "--colo-failover", dx.NAME)
    t_failover = time.time()
    lab.event(f"{dead.name} fenced; virsh domjobabort --colo-failover on the "
              f"{survivor.name}", at=t_failover)
    wait_domstate(lab, survivor, "running")
    time.sleep(2)  # the survivor's guest writes on
    rec = read_records(lab)
    lab.event(f"disk records on the {survivor.name}: {rec} ({seen} counted before the kill)")
    check_records(f"after the failover to the {survivor.name}", rec, seen, failures)
    return t_failover


def libvirt_colo_reprotect(lab, opts):
    """A full cycle through virsh: protect (primary host -> secondary
    host), the primary's host dies and the secondary takes over; libvirtd
    restarts on the survivor's host, which keeps what the survivor kept
    (its filter-rewriters); the survivor is protected again with the same
    `virsh migrate --colo` to the first host, with a fresh image there;
    then the survivor's host dies and the new secondary takes over. Every
    request is answered."""
    hosts, work, t1 = protect(lab, opts)
    first, second = hosts["primary"], hosts["secondary"]
    failures = []
    served = lambda since: (lambda: work.answered(since=since) >= opts.after_kill)
    lab.wait_until("requests while protected", served(t1), timeout=180, stall=60)
    t_failover = fail_over(lab, opts, first, second, failures)
    lab.wait_until("requests after the first failover", served(t_failover),
                   timeout=180, stall=60)
    # what libvirt keeps of the survivor's COLO past a restart of its daemon
    second.restart()
    survivor_status = colo_status_element(second)
    lab.event(f"libvirtd restarted on the {second.name}; status XML: {survivor_status}")
    if "<rewriter id=" not in survivor_status:
        failures.append(f"the survivor's status XML lost its kept rewriters: "
                        f"{survivor_status}")
    create_image(lab, first)
    _, t_reprotect = migrate(lab, second, first, *COLO_FLAGS)
    report_pair(lab, second, first)
    reprotected = {"domstate": {h.name: domstate(h) for h in hosts.values()},
                   "job": {h.name: job_info(h) for h in hosts.values()}}
    lab.wait_until("requests while protected again", served(t_reprotect),
                   timeout=180, stall=60)
    t_failover2 = fail_over(lab, opts, second, first, failures)
    lab.wait_until("requests after the second failover", served(t_failover2),
                   timeout=180, stall=60)
    records = work.stop()
    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "reprotected": reprotected,
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "running": {h.name: h.running() for h in hosts.values()},
               "max_answer_gap_s": max_answer_gap(records),
               "requests": request_summary(records)}
    check_requests(summary, failures)
    check_untainted(hosts, failures)
    if reprotected["domstate"] != {"primary": "running (colo secondary)",
                                   "secondary": "running (colo primary)"}:
        failures.append(f"protected again: {reprotected['domstate']}")
    if summary["running"] != {"primary": [dx.NAME], "secondary": []}:
        failures.append(f"running at the end: {summary['running']}")
    return summary, failures


def libvirt_colo_end(lab, opts):
    """Protection ends on purpose: a plain `virsh domjobabort` is refused
    on both sides; `virsh domjobabort --colo-failover` on the primary
    leaves the primary running unprotected, and the secondary, which stood
    down, is stopped. Every request is answered."""
    hosts, work, t1 = protect(lab, opts)
    primary, secondary = hosts["primary"], hosts["secondary"]
    lab.wait_until("requests while protected",
                   lambda: work.answered(since=t1) >= opts.before_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t1))
    refused = {h.name: h.virsh("domjobabort", dx.NAME, check=False).returncode != 0
               for h in hosts.values()}
    primary.virsh("domjobabort", "--colo-failover", dx.NAME)
    t_end = time.time()
    lab.event("virsh domjobabort --colo-failover on the primary", at=t_end)
    lab.wait_until("the secondary stopped",
                   lambda: dx.NAME not in secondary.running(), timeout=60)
    lab.wait_until("the primary's job ended", lambda: job_type(primary) == "None",
                   timeout=60)
    lab.wait_until("requests after the end", lambda: work.answered(since=t_end) >=
                   opts.after_kill, timeout=180, stall=60)
    records = work.stop()
    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "plain_abort_refused": refused,
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "completed_job": job_info(primary, "--completed"),
               "running": {h.name: h.running() for h in hosts.values()},
               "max_answer_gap_s": max_answer_gap(records),
               "requests": request_summary(records)}
    failures = []
    check_requests(summary, failures)
    check_untainted(hosts, failures)
    if not all(refused.values()):
        failures.append(f"plain abort refused: {refused}")
    if summary["running"] != {"primary": [dx.NAME], "secondary": []}:
        failures.append(f"running: {summary['running']}")
    if summary["domstate"]["primary"] != "running (unpaused)":
        failures.append(f"on the primary the domain is {summary['domstate']['primary']}")
    return summary, failures


def libvirt_colo_unfenced_takeover(lab, opts):
    """Management makes the secondary take over while the primary still
    runs (it did not fence it): QEMU tells the primary, which stands down,
    and libvirt stops it: one copy of the guest runs, and it serves."""
    hosts, work, t1 = protect(lab, opts)
    primary, secondary = hosts["primary"], hosts["secondary"]
    lab.wait_until("requests while protected",
                   lambda: work.answered(since=t1) >= opts.before_kill, timeout=180,
                   stall=60, progress=lambda: work.answered(since=t1))
    secondary.virsh("domjobabort", "--colo-failover", dx.NAME)
    t_failover = time.time()
    lab.event("virsh domjobabort --colo-failover on the secondary, the primary "
              "still running", at=t_failover)
    lab.wait_until("the primary stopped", lambda: dx.NAME not in primary.running(),
                   timeout=60)
    lab.event(f"on the primary: {domstate(primary)}")
    wait_domstate(lab, secondary, "running (unpaused)")
    lab.wait_until("requests after the takeover", lambda: work.answered(
        since=t_failover) >= opts.after_kill, timeout=180, stall=60)
    records = work.stop()
    summary = {"scenario": lab.scenario, "rundir": lab.rundir,
               "domstate": {h.name: domstate(h) for h in hosts.values()},
               "running": {h.name: h.running() for h in hosts.values()},
               "max_answer_gap_s": max_answer_gap(records),
               "requests": request_summary(records)}
    failures = []
    check_requests(summary, failures)
    check_untainted(hosts, failures)
    if summary["running"] != {"primary": [], "secondary": [dx.NAME]}:
        failures.append(f"running: {summary['running']}")
    return summary, failures


def libvirt_daemon_restarts(lab, opts):
    """libvirtd ends at once on SIGTERM, restart after restart: no
    driver's shutdown wait may hang until libvirt's 30 s quit timeout.
    Without guests: it is the daemon's own shutdown. The node_device
    driver's udev thread deadlocked with it in about one shutdown of
    fifteen (libvirt series patch 1): 20 restarts catch that three
    times in four."""
    hosts = start_hosts(lab, opts.libvirt)
    host = hosts["primary"]
    seconds = []
    for _ in range(DAEMON_RESTARTS):
        seconds.append(round(host.restart(), 1))
        lab.event(f"libvirtd restarted on the {host.name} (ended in {seconds[-1]} s)")
    failures = [f"libvirtd took {s} s to end: {host.slow_shutdown}"
                for s in seconds if s > SHUTDOWN_MAX_S]
    return {"scenario": lab.scenario, "rundir": lab.rundir,
            "shutdown_s": seconds}, failures


SCENARIOS = {"libvirt-colo-restart": libvirt_colo_restart,
             "libvirt-daemon-restarts": libvirt_daemon_restarts,
             "libvirt-colo-split": libvirt_colo_unfenced_takeover,
             "libvirt-colo-end": libvirt_colo_end,
             "libvirt-colo-reprotect": libvirt_colo_reprotect,
             "libvirt-colo": libvirt_colo,
             "libvirt-colo-failover": libvirt_colo_failover,
             "libvirt-colo-kill-secondary": libvirt_colo_kill_secondary}
