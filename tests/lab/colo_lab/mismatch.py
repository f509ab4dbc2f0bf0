"""Evidence that colo-nic never lets the client see unverified output,
from /cgi-bin/random answers (which differ between the PVM and the SVM):
the values each VM logged on its serial console, the client's packet
capture and the primary's checkpoint trace."""

import re

from .capture import read_pcap, tcp_segments
from .report import trace_events

RANDOM_LOG = re.compile(r"COLO-RANDOM tag=(\S+) value=(\w+)")
RANDOM_BODY = re.compile(rb"tag=([A-Za-z0-9_-]+) value=(\w+)")
REQUEST = re.compile(rb"GET /cgi-bin/random\?tag=([A-Za-z0-9_-]+) ")


def random_values(serial_text):
    """{tag: value} of what a VM logged for /cgi-bin/random."""
    return dict(RANDOM_LOG.findall(serial_text))


def commit_times(trace_path):
    """Host times at which the secondary held a checkpoint's state (end of
    the primary's wait-received phase): from then on colo-nic may release
    the primary's output held before it."""
    return [t for t, name, text in trace_events(trace_path)
            if name == "colo_checkpoint_phase" and text.startswith("wait-received ")]


# Rounding of the timestamps (pcap: us or ns, trace: us, time.time())
CLOCK_SLACK = 0.01


def check_release(pcap_path, client_ip, guest_ip, pvm, svm, commits,
                  capture_window, run_window):
    """Failures (one line each) and figures of the client's capture:
    every answer the client received carries the PVM's value, none an
    SVM-only value, and each was received after a checkpoint committed
    after its request left the client.

    The capture's and the trace's times are compared with each other, so
    both must be host wall-clock times, like time.time(). capture_window:
    (start, end) host times taken before tcpdump started and after it
    stopped: every packet lies in it. run_window: (start, end) host times
    taken before QEMU started and after its trace was read: every commit
    lies in it (the trace covers the whole run, the checkpoints before
    the capture too)."""
    failures = []
    segs = tcp_segments(read_pcap(pcap_path))
    sent, received, seen_values = {}, {}, set()
    for t, src, _, _, _, _, _, payload in segs:
        if src == client_ip:
            for tag in REQUEST.findall(payload):
                sent.setdefault(tag.decode(), t)
        elif src == guest_ip:
            for tag, value in RANDOM_BODY.findall(payload):
                tag, value = tag.decode(), value.decode()
                received.setdefault(tag, (t, value))
                seen_values.add(value)
    for what, times, (lo, hi) in (("capture", [t for t, *_ in segs], capture_window),
                                  ("trace", commits, run_window)):
        outside = [t for t in times if not lo - CLOCK_SLACK <= t <= hi + CLOCK_SLACK]
        if outside:
            failures.append(f"{len(outside)} {what} time(s) outside the host wall-clock "
                            f"window {lo:.3f}..{hi:.3f}, e.g. {outside[0]:.6f}: "
                            "the clocks are not comparable")
    svm_only = set(svm.values()) - set(pvm.values())
    leaked = seen_values & svm_only
    if leaked:
        failures.append(f"the client received {len(leaked)} value(s) only the SVM "
                        f"computed, e.g. {sorted(leaked)[0]}")
    differing = [tag for tag in pvm if tag in svm and svm[tag] != pvm[tag]]
    early = []
    for tag, pvm_value in sorted(pvm.items()):
        if tag not in sent or tag not in received:
            failures.append(f"request {tag}: not in the client's capture")
            continue
        t_recv, value = received[tag]
        if value != pvm_value:
            failures.append(f"request {tag}: the client got {value}, the PVM computed {pvm_value}")
        if tag in differing and not any(sent[tag] < c <= t_recv for c in commits):
            early.append(tag)
    if early:
        failures.append(f"{len(early)} differing answer(s) reached the client before any "
                        f"checkpoint after their request, e.g. {early[0]}")
    delays = []
    for tag in differing:
        if tag in received:
            before = [c for c in commits if c <= received[tag][0]]
            if before:
                delays.append((received[tag][0] - max(before)) * 1000)
    figures = {"requests": len(pvm), "svm_differing": len(differing),
               "svm_only_values_received": len(leaked),
               "released_before_commit": len(early),
               "release_after_commit_ms": {
                   "median": round(sorted(delays)[len(delays) // 2], 1) if delays else None,
                   "max": round(max(delays), 1) if delays else None}}
    return failures, figures
