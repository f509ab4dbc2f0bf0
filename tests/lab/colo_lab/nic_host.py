"""colo-nic scenarios about the host side (colo-proxy-script.sh's rules):

nic-chatter: the guest sends UDP multicast, broadcast and unknown-unicast
  datagrams several times a second (what mDNS, SSDP, LLMNR or DHCP
  clients do). The bridges flood them; each must be compared once, so
  the pair sees no mismatch, no compare timeout and no mismatch
  checkpoint from them, and the client receives each multicast and
  broadcast datagram exactly once.

nic-firewall-kill-primary, nic-firewall-kill-secondary: an admin's
  stateful DROP rule appended to FORWARD on both hosts after colo-nic's
  install (TCP from the guest's port 7, conntrack state ESTABLISHED)
  must keep applying to the protected guest's output: while COLO runs,
  and on the survivor after the other side was killed and failover ran
  (on the secondary: its tap's traffic tracked again, its rewriter rules
  letting the host's rules after them run).

nic-failover-hang: the proxy script's failover hangs on the primary (a
  wrapper sleeps first); the secondary is killed. The failover must not
  wait for the script: the guest answers again at once, the monitor
  answers, and QEMU kills the script after its time limit and says so.
"""

import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time

from . import colo, nic
from .qemu import LAB_DIR
from .report import first_answer_after, request_summary
from .scenarios import colo_stats, nic_counters, _base_summary, _check_nic_installed
from .topology import CLIENT_IP, GUEST_IP, LabError, run

# The guest's chatter flows: (tag, to, port, lladdr, received by the client)
MDNS = ("mdns", "224.0.0.251", 5353, None, True)
BCAST = ("bcast", "255.255.255.255", 5354, None, True)
FLOOD = ("flood", "10.77.0.99", 5355, "02:00:00:77:00:99", False)
CHATTER = (MDNS, BCAST, FLOOD)
CHATTER_MS = 250
CHATTER_COUNT = 60          # 15 s of chatter per flow

ECHO_PORT = 7               # the guest's echo service (nc -ll -p 7 -e cat)
ADMIN_TAG = "lab-admin"


# --- nic-chatter -----------------------------------------------------------

class UdpListener:
    """colo_lab.udp_listen in the client namespace."""

    def __init__(self, netns, ports, groups, seconds):
        env = dict(os.environ, PYTHONPATH=LAB_DIR)
        cmd = ["ip", "netns", "exec", netns, sys.executable, "-m", "colo_lab.udp_listen",
               "--ifaddr", CLIENT_IP, "--seconds", str(seconds)]
        for port in ports:
            cmd += ["--port", str(port)]
        for group in groups:
            cmd += ["--group", group]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True, env=env)
        line = self.proc.stdout.readline()
        if not line or not json.loads(line).get("listening"):
            raise LabError("udp_listen did not start in the client namespace")

    def result(self, timeout):
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            raise LabError("udp_listen: no result") from exc
        return json.loads(out.strip().splitlines()[-1])


def _chatter_counts(received, tag):
    """{seq: times received} of one flow's datagrams."""
    counts = {}
    for _, text in received:
        words = text.split()
        if len(words) == 3 and words[0] == "colo-chatter" and words[1] == tag:
            seq = int(words[2].removeprefix("seq="))
            counts[seq] = counts.get(seq, 0) + 1
    return counts


def nic_chatter(lab, opts):
    primary, _ = lab.start_pair(opts.period, opts.capability, opts.dirty_kbps)
    lab.wait_guest_ready(primary)
    start = lab.checkpoints()
    lab.wait_until("3 checkpoints", lambda: lab.checkpoints() >= start + 3, timeout=60,
                   stall=30, progress=lab.checkpoints)
    seconds = CHATTER_MS * CHATTER_COUNT / 1000
    settle = max(5.0, 3 * opts.period / 1000)
    listener = UdpListener(lab.topology.client, [f[2] for f in CHATTER if f[4]],
                           [MDNS[1]], seconds + settle + 5)
    stats_before, counters_before = colo_stats(primary), nic_counters(lab)
    ckpt_before = lab.checkpoints()
    for tag, to, port, lladdr, _ in CHATTER:
        query = f"to={to}&port={port}&ms={CHATTER_MS}&count={CHATTER_COUNT}&tag={tag}"
        if lladdr:
            query += f"&lladdr={lladdr}"
        lab.client_get(f"/cgi-bin/chatter?{query}")
    lab.event(f"guest chatter started: {len(CHATTER)} UDP flows (multicast, broadcast, "
              f"unknown unicast), one datagram per {CHATTER_MS} ms each, {seconds:.0f} s")
    lab.wait_until("the chatter's end", lambda: False if listener.proc.poll() is None else True,
                   timeout=seconds + settle + 60)
    received = listener.result(timeout=30)
    stats_after, counters_after = colo_stats(primary), nic_counters(lab)
    lab.event(f"chatter over, {lab.checkpoints() - ckpt_before} checkpoints meanwhile")

    summary = _base_summary(lab, lab.scenario)
    failures = []
    flows = {}
    for tag, to, port, _, seen in CHATTER:
        if not seen:
            continue
        counts = _chatter_counts(received.get(str(port), []), tag)
        missing = [i for i in range(CHATTER_COUNT) if i not in counts]
        dups = sorted(i for i, n in counts.items() if n > 1)
        flows[tag] = {"to": to, "received": sum(counts.values()), "missing": len(missing),
                      "duplicated": len(dups)}
        if missing:
            failures.append(f"{tag} ({to}): {len(missing)} of {CHATTER_COUNT} datagrams "
                            f"never reached the client (first seq {missing[0]})")
        if dups:
            failures.append(f"{tag} ({to}): {len(dups)} datagrams reached the client "
                            f"more than once (first seq {dups[0]})")
    pri_b, pri_a = counters_before["primary"], counters_after["primary"]
    delta = {k: pri_a[k] - pri_b[k] for k in ("mismatches", "timeouts", "refused", "released")}
    summary.update(flows=flows, colo_nic_delta=delta,
                   checkpoints_during=lab.checkpoints() - ckpt_before,
                   colo_stats_before=stats_before, colo_stats_after=stats_after,
                   colo_nic={"before": counters_before, "after": counters_after})
    for key in ("mismatches", "timeouts", "refused"):
        if delta[key]:
            failures.append(f"the primary's colo-nic counts {delta[key]} {key} during the "
                            f"chatter")
    if stats_before is not None and stats_after is not None:
        extra = stats_after["mismatch"] - stats_before["mismatch"]
        summary["mismatch_checkpoints"] = extra
        if extra:
            failures.append(f"{extra} mismatch-triggered checkpoint(s) during the chatter")
    else:
        failures.append("query-colo-status has no statistics")
    if delta["released"] < CHATTER_COUNT:
        failures.append(f"the primary's colo-nic released only {delta['released']} packets")
    for side, c in counters_after.items():
        for key in ("kernel-dropped", "recv-overflows", "verdict-errors"):
            if c.get(key):
                failures.append(f"the {side}'s colo-nic counts {c[key]} {key}")
    _check_nic_installed(lab, failures)
    return summary, failures


# --- nic-firewall-* --------------------------------------------------------

def _admin_rule():
    """The admin's rule: the guest's echo answers of tracked connections."""
    return ["FORWARD", "-p", "tcp", "--sport", str(ECHO_PORT), "-m", "conntrack",
            "--ctstate", "ESTABLISHED", "-m", "comment", "--comment", ADMIN_TAG, "-j", "DROP"]


def _admin_append(netns):
    run("ip", "netns", "exec", netns, nic.IPTABLES, "-w", "-A", *_admin_rule())


def _admin_delete(netns):
    """The admin's rule goes with its host (killed: its firewall is gone)."""
    run("ip", "netns", "exec", netns, nic.IPTABLES, "-w", "-D", *_admin_rule(), check=False)


def _admin_hits(netns):
    """Packets the admin's rule in netns dropped so far."""
    out = run("ip", "netns", "exec", netns, nic.IPTABLES, "-w", "-L", "FORWARD",
              "-v", "-x", "-n").stdout
    for line in out.splitlines():
        if ADMIN_TAG in line:
            return int(line.split()[0])
    raise LabError(f"the admin rule is gone from FORWARD in {netns}")


ECHO_CLIENT = """
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    s.settimeout(float(sys.argv[3]))
    s.sendall(b"colo-echo\\n")
    data = b""
    while b"\\n" not in data:
        chunk = s.recv(100)
        if not chunk:
            break
        data += chunk
    print("echo" if data == b"colo-echo\\n" else "wrong")
except OSError as exc:
    print("failed", exc)
"""


def _echo(lab, timeout=4.0):
    """'echo' when the guest's echo service answered, else why not."""
    proc = subprocess.run(["ip", "netns", "exec", lab.topology.client, sys.executable, "-c",
                           ECHO_CLIENT, GUEST_IP, str(ECHO_PORT), str(timeout)],
                          capture_output=True, text=True, timeout=timeout * 3 + 30)
    return proc.stdout.strip() or proc.stderr.strip()


def _http_ok(lab, request_id, timeout=60.0):
    """The guest's web server answers (retried: a failover may be under way)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return lab.client_get(f"/cgi-bin/count?id={request_id}", timeout=5.0)
        except LabError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _check_blocked(lab, where, netns, failures, summary):
    hits = _admin_hits(netns)
    got = _echo(lab)
    answer = _http_ok(lab, 900000 + len(summary))
    hits_after = _admin_hits(netns)
    summary[where] = {"echo": got, "http": answer, "admin_rule_drops": hits_after - hits}
    lab.event(f"{where}: echo on port {ECHO_PORT}: {got}; HTTP: {answer}; "
              f"the admin rule dropped {hits_after - hits} packet(s)")
    if got == "echo":
        failures.append(f"{where}: the guest's echo answered although the host's FORWARD "
                        f"rule drops it")
    elif hits_after == hits:
        failures.append(f"{where}: the echo failed, but not by the host's FORWARD rule ({got})")


def _firewall(lab, opts, victim):
    survivor_name = "secondary" if victim == "primary" else "primary"
    primary, secondary = lab.start_pair(opts.period, opts.capability, opts.dirty_kbps)
    lab.wait_guest_ready(primary)
    start = lab.checkpoints()
    lab.wait_until("3 checkpoints", lambda: lab.checkpoints() >= start + 3, timeout=60,
                   stall=30, progress=lab.checkpoints)
    topo = lab.topology
    summary = _base_summary(lab, lab.scenario)
    failures = []
    _check_nic_installed(lab, failures)
    got = _echo(lab)
    summary["before_rule"] = {"echo": got}
    lab.event(f"echo on port {ECHO_PORT} before the admin rule: {got}")
    if got != "echo":
        raise LabError(f"the guest's echo service does not answer under COLO: {got}")
    for ns in (topo.primary, topo.secondary):
        _admin_append(ns)
    lab.event("admin rule appended to FORWARD on both hosts: "
              + " ".join(_admin_rule()))
    _check_blocked(lab, "colo", topo.primary, failures, summary)

    victim_vm, survivor = lab.vms[victim], lab.vms[survivor_name]
    t_kill = time.time()
    victim_vm.kill()
    lab.event(f"{victim} killed (SIGKILL)", at=t_kill)
    # The dead host's firewall is gone: the client's path to the
    # survivor may cross its bridge
    _admin_delete(topo.primary if victim == "primary" else topo.secondary)
    how, state = colo.fail_over_survivor(survivor, victim, victim_vm, lab.net.proxy,
                                         log=lab.event, since=t_kill)
    lab.event(f"COLO ended on the {survivor_name} ({how} failover, guest {state})")
    survivor_ns = topo.secondary if victim == "primary" else topo.primary
    _check_blocked(lab, "after_failover", survivor_ns, failures, summary)
    if victim == "primary":
        notrack = [r for r in nic.tagged_rules(topo.secondary)
                   if r.startswith("raw ") and "physdev-in tap0" in r]
        if notrack:
            failures.append(f"after failover the SVM's traffic is still untracked: {notrack[0]}")
    summary["survivor_colo_nic"] = nic.counters(survivor)
    if summary["survivor_colo_nic"]["held"]:
        failures.append(f"the survivor's colo-nic still holds "
                        f"{summary['survivor_colo_nic']['held']} packet(s) after failover")
    for key in ("verdict-errors", "kernel-dropped", "recv-overflows"):
        if summary["survivor_colo_nic"].get(key):
            failures.append(f"the survivor's colo-nic counts "
                            f"{summary['survivor_colo_nic'][key]} {key}")
    return summary, failures


def nic_firewall_kill_primary(lab, opts):
    return _firewall(lab, opts, "primary")


def nic_firewall_kill_secondary(lab, opts):
    return _firewall(lab, opts, "secondary")


# --- nic-failover-hang -------------------------------------------------------

HANG_S = 100                # how long the wrapper's failover sleeps
SCRIPT_LIMIT_S = 30         # colo-nic's limit for the failover script


def nic_failover_hang(lab, opts):
    wrapper = os.path.join(lab.rundir, "hanging-proxy-script.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n# colo-proxy-script.sh, but its failover hangs first\n"
                f'[ "$2" = failover ] && sleep {HANG_S}\n'
                f'exec {shlex.quote(lab.net.script)} "$@"\n')
    os.chmod(wrapper, 0o755)
    lab.net = dataclasses.replace(lab.net, script=wrapper)
    primary, secondary = lab.start_pair(opts.period, opts.capability, opts.dirty_kbps)
    lab.wait_guest_ready(primary)
    start = lab.checkpoints()
    work = lab.start_workload()
    lab.wait_until("load before the kill",
                   lambda: work.answered() >= 5 and lab.checkpoints() >= start + 3,
                   timeout=120, stall=30, progress=lambda: (work.answered(), lab.checkpoints()))
    t_kill = time.time()
    secondary.kill()
    lab.event("secondary killed (SIGKILL); the primary's failover script hangs "
              f"{HANG_S} s", at=t_kill)
    failures = []
    summary = _base_summary(lab, lab.scenario)
    try:
        how = colo.failover_on_primary(primary, lab.net.proxy, timeout=20.0)
        state = colo.wait_colo_ended(primary, timeout=20.0)
    except Exception as exc:  # noqa: BLE001 - any way the monitor hangs
        failures.append(f"the primary's failover did not end within 20 s: {exc}")
        work.stop(timeout=5)
        return summary, failures
    t_ended = time.time()
    lab.event(f"COLO ended on the primary {t_ended - t_kill:.2f} s after the kill "
              f"({how} failover, guest {state})")
    t_q = time.time()
    primary.qmp.cmd("query-status", timeout=20.0)
    monitor_s = time.time() - t_q
    lab.wait_until("requests after the failover", lambda: work.answered(since=t_kill) >= 10,
                   timeout=60, stall=30, progress=lambda: work.answered(since=t_kill))
    records = work.stop()
    first = first_answer_after(records, t_kill)
    stderr_path = os.path.join(lab.rundir, "primary-stderr.log")

    def reported():
        with open(stderr_path, errors="replace") as f:
            return "did not finish within" in f.read()
    lab.wait_until("QEMU's report of the killed failover script", reported,
                   timeout=SCRIPT_LIMIT_S + 30)
    lab.event("QEMU killed the failover script and reported it: "
              + primary.stderr_tail(1).strip())
    summary.update(failover_s=round(t_ended - t_kill, 3), monitor_s=round(monitor_s, 3),
                   failover_gap_s=round(first, 3) if first is not None else None,
                   requests=request_summary(records),
                   survivor_colo_nic=nic.counters(primary))
    if first is None or first > max(opts.max_gap, 5.0):
        failures.append(f"first request after the kill served after {first} s "
                        f"(limit {max(opts.max_gap, 5.0)} s)")
    if monitor_s > 2.0:
        failures.append(f"the primary's monitor answered after {monitor_s:.1f} s")
    if state != "running":
        failures.append(f"the primary's guest is {state}")
    for key in ("lost", "duplicated"):
        if summary["requests"][key]:
            failures.append(f"{summary['requests'][key]} request(s) {key}")
    return summary, failures


SCENARIOS = {"nic-chatter": nic_chatter, "nic-failover-hang": nic_failover_hang,
             "nic-firewall-kill-primary": nic_firewall_kill_primary,
             "nic-firewall-kill-secondary": nic_firewall_kill_secondary}
NETS = {name: {"proxy": "nic"} for name in SCENARIOS}
