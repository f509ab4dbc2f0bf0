"""Evidence that colo-nic never lets the client see unverified output,
from /cgi-bin/random answers (which differ between the PVM and the SVM):
the values each VM logged on its serial console, packet captures on the
client and on the PVM's tap, and the primary's checkpoint trace."""

import re

from .capture import read_pcap, tcp_segments
from .report import trace_events

RANDOM_LOG = re.compile(r"COLO-RANDOM tag=(\S+) value=(\w+)")
RANDOM_START = re.compile(r"COLO-RANDOM-START tag=(\S+)")
SERIAL_THR = re.compile(r"write addr 0x00 val 0x([0-9a-f]{2})")
RANDOM_BODY = re.compile(rb"tag=([A-Za-z0-9_-]+) value=(\w+)")
REQUEST = re.compile(rb"GET /cgi-bin/random\?tag=([A-Za-z0-9_-]+)[ &]")


def random_values(serial_text):
    """{tag: value} of what a VM logged for /cgi-bin/random."""
    return dict(RANDOM_LOG.findall(serial_text))


def console_lines(trace_path):
    """(host time of its first character, text) of each line the guest
    wrote to its serial console, from the trace event serial_write (the
    transmit register, offset 0)."""
    lines, chars, first = [], [], None
    for t, name, text in trace_events(trace_path):
        m = SERIAL_THR.match(text) if name == "serial_write" else None
        if not m:
            continue
        ch = chr(int(m.group(1), 16))
        if ch == "\n":
            lines.append((first, "".join(chars).strip("\r")))
            chars, first = [], None
        else:
            first = t if not chars else first
            chars.append(ch)
    return lines


def compute_windows(trace_path):
    """{tag: (lo, hi)}: host times between which the guest computed the
    value of a /cgi-bin/random request, from its console lines before
    and after (their first characters are written while the guest's
    write() runs: the value was read after lo and before hi)."""
    started, windows = {}, {}
    for t, text in console_lines(trace_path):
        start, done = RANDOM_START.fullmatch(text), RANDOM_LOG.fullmatch(text)
        if start:
            started.setdefault(start.group(1), t)
        elif done and done.group(1) in started:
            windows.setdefault(done.group(1), (started[done.group(1)], t))
    return windows


def checkpoint_windows(trace_path):
    """(stop, commit) host times of each checkpoint the secondary
    received: the PVM was stopped at stop (end of the request-and-stop
    phase), and its state, with everything the PVM emitted before stop,
    was on the secondary at commit (end of wait-received)."""
    windows, stop = [], None
    for t, name, text in trace_events(trace_path):
        if name != "colo_checkpoint_phase":
            continue
        if text.startswith("request-and-stop "):
            stop = t
        elif text.startswith("wait-received ") and stop is not None:
            windows.append((stop, t))
            stop = None
    return windows


# Rounding of the timestamps (pcap: us or ns, trace: us, time.time())
CLOCK_SLACK = 0.01


def _connections(segs, guest_ips):
    """{(client address, client port): [(time, seq, flags, payload)]} of
    what the guest (any of guest_ips) sent on each connection to port 80,
    and the client ends used by more than one connection (more than one
    SYN-ACK of the guest)."""
    conns, syns = {}, {}
    for t, src, dst, sport, dport, seq, flags, payload in segs:
        if src in guest_ips and sport == 80:
            conns.setdefault((dst, dport), []).append((t, seq, flags, payload))
            if flags & 0x02:
                syns.setdefault((dst, dport), set()).add(seq)
    return conns, {port for port, isns in syns.items() if len(isns) > 1}


def _relative(seq, base):
    return (seq - base) & 0xFFFFFFFF


def _stream_base(*segment_lists):
    """The sequence number stream offsets count from: the guest's SYN,
    or else its first segment."""
    segs = [s for segs in segment_lists for s in segs]
    syn = [s for s in segs if s[2] & 0x02]
    first = min(syn or segs, key=lambda s: s[0], default=None)
    return first[1] if first else None


def _stream(received, base):
    """(offset of its first byte, the bytes) the client received on a
    connection, in stream order; None if the capture has a hole."""
    data, start = bytearray(), None
    for _, seq, _, payload in sorted(received, key=lambda s: _relative(s[1], base)):
        off = _relative(seq, base)
        if not payload:
            continue
        if start is None:
            start = off
        if off > start + len(data):
            return None
        if start + len(data) < off + len(payload):
            data += payload[start + len(data) - off:]
    return start or 0, bytes(data)


def emission_time(emitted, base, lo, hi):
    """The time at which the PVM had emitted every byte of stream offsets
    [lo, hi) at least once (emitted: its segments as its tap carried
    them), or None if it never did."""
    missing = [(lo, hi)]
    for t, seq, _, payload in sorted(emitted, key=lambda s: s[0]):
        a = _relative(seq, base)
        b = a + len(payload)
        missing = [piece for m_lo, m_hi in missing
                   for piece in ((m_lo, min(m_hi, a)), (max(m_lo, b), m_hi))
                   if piece[0] < piece[1]]
        if not missing:
            return t
    return None


def _common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _value_ranges(stream, value, svm_value):
    """Stream offsets [lo, hi) of the bytes of each "value=V" in an
    answer that the SVM's value does not share (all of V if the SVM
    logged none)."""
    start, data = stream
    needle = f"value={value}".encode()
    skip = len("value=") + _common_prefix(value, svm_value or "")
    ranges, at = [], data.find(needle)
    while at >= 0:
        ranges.append((start + at + skip, start + at + len(needle)))
        at = data.find(needle, at + 1)
    return ranges


def _value_segments(received, emitted, base, value, svm_value):
    """(emission time or None, receipt time, lo, hi) of each segment the
    client received that carries bytes of the PVM's value that the SVM's
    does not share; None if the client's capture has a hole."""
    stream = _stream(received, base)
    if stream is None:
        return None
    ranges = _value_ranges(stream, value, svm_value)
    out = []
    for t_recv, seq, _, payload in received:
        lo = _relative(seq, base)
        hi = lo + len(payload)
        if any(lo < r_hi and r_lo < hi for r_lo, r_hi in ranges):
            out.append((emission_time(emitted, base, lo, hi), t_recv, lo, hi))
    return out


def _check_answer(received, emitted, value, svm_value, windows, computed):
    """Whether the segments of an answer that carry the PVM's value, and
    that the SVM did not produce alike, were each emitted before a
    checkpoint's stop and received after that checkpoint's commit.

    The SVM runs from the PVM's state of the last checkpoint: from the
    first checkpoint after the PVM computed the value, the SVM has the
    same value and what it sends carries it too. computed: (lo, hi), the
    value was computed between these times; an answer with a checkpoint
    stop in between is not checked. Returns (problem or None, delays of
    receipt after the commit in ms, whether it was checked)."""
    if not emitted:
        return "the PVM's tap never carried it", [], True
    base = _stream_base(emitted, received)
    segs = _value_segments(received, emitted, base, value, svm_value)
    if segs is None:
        return "the client's capture of it has a hole", [], True
    if not segs:
        return "its value is not in what the client received", [], True
    missing = [(lo, hi) for t_emit, _, lo, hi in segs if t_emit is None]
    if missing:
        lo, hi = missing[0]
        return f"bytes {lo}..{hi} reached the client, the PVM's tap never carried them", [], True
    stops = sorted(stop for stop, _ in windows)
    if any(computed[0] < stop < computed[1] for stop in stops):
        return None, [], False
    synced = next((stop for stop in stops if stop > computed[1]), None)
    delays = []
    for t_emit, t_recv, lo, hi in segs:
        if synced is not None and t_emit > synced:
            continue
        covering = [commit for stop, commit in windows if t_emit < stop and commit <= t_recv]
        if not covering:
            return (f"bytes {lo}..{hi} emitted at {t_emit:.6f} reached the client at "
                    f"{t_recv:.6f} without a checkpoint between"), [], True
        delays.append((t_recv - max(covering)) * 1000)
    return None, delays, True


def _check_clocks(named_times, failures):
    for what, times, (lo, hi) in named_times:
        outside = [t for t in times if not lo - CLOCK_SLACK <= t <= hi + CLOCK_SLACK]
        if outside:
            failures.append(f"{len(outside)} {what} time(s) outside the host wall-clock "
                            f"window {lo:.3f}..{hi:.3f}, e.g. {outside[0]:.6f}: "
                            "the clocks are not comparable")


def check_release(client_pcap, tap_pcap, client_ips, guest_ips, pvm, svm, windows,
                  computed, capture_window, run_window):
    """Failures (one line each) and figures of the captures: every answer
    the client received carries the PVM's value, none an SVM-only value,
    and every segment of an answer that the SVM did not produce alike
    (a different value, or none at all) that carries the PVM's value was
    emitted by the PVM (tap_pcap: the capture on its tap, in the primary
    host) before a checkpoint stopped it and reached the client
    (client_pcap) after that checkpoint was committed. client_ips and
    guest_ips: the client's and the guest's addresses (IPv4 and IPv6),
    as tcp_segments writes them. Only the segments
    emitted before the SVM was given the PVM's value by a checkpoint
    are checked (see _check_answer); computed: {tag: (lo, hi)}, when the
    PVM computed each value (compute_windows).

    The captures' and the trace's times are compared with each other, so
    all must be host wall-clock times, like time.time(). capture_window:
    (start, end) host times taken before the captures started and after
    they stopped. run_window: (start, end) host times taken before QEMU
    started and after its trace was read: every checkpoint lies in it."""
    failures = []
    client = tcp_segments(read_pcap(client_pcap))
    tap = tcp_segments(read_pcap(tap_pcap))
    _check_clocks((("capture", [s[0] for s in client + tap], capture_window),
                   ("trace", [t for w in windows for t in w] +
                    [t for w in computed.values() for t in w], run_window)), failures)
    ports, seen_values = {}, set()
    for t, src, _, sport, _, _, _, payload in client:
        if src in client_ips:
            for tag in REQUEST.findall(payload):
                ports.setdefault(tag.decode(), (src, sport))
        elif src in guest_ips:
            seen_values.update(v.decode() for _, v in RANDOM_BODY.findall(payload))
    (received, reused), (emitted, reused_tap) = (_connections(client, guest_ips),
                                                 _connections(tap, guest_ips))
    leaked = seen_values & (set(svm.values()) - set(pvm.values()))
    if leaked:
        failures.append(f"the client received {len(leaked)} value(s) only the SVM "
                        f"computed, e.g. {sorted(leaked)[0]}")
    differing = sorted(tag for tag in pvm if svm.get(tag) != pvm[tag])
    early, delays, checked = [], [], []
    for tag in sorted(pvm):
        port = ports.get(tag)
        if port is None or port not in received:
            failures.append(f"request {tag}: not in the client's capture")
        elif port in reused | reused_tap:
            failures.append(f"request {tag}: its client end {port} served several "
                            "connections, the captures cannot tell them apart")
        elif tag in differing and tag not in computed:
            failures.append(f"request {tag}: no console lines tell when the PVM "
                            "computed its value")
        elif tag in differing:
            problem, answer_delays, was_checked = _check_answer(
                received[port], emitted.get(port, []), pvm[tag], svm.get(tag), windows,
                computed[tag])
            delays += answer_delays
            if was_checked:
                checked.append(tag)
            if problem:
                early.append(f"{tag}: {problem}")
    if early:
        failures.append(f"{len(early)} answer(s) the SVM did not produce reached the client "
                        f"uncovered by a checkpoint, e.g. {early[0]}")
    delays.sort()
    figures = {"requests": len(pvm), "svm_differing": len(differing),
               "svm_missing": sum(1 for tag in pvm if tag not in svm),
               "svm_only_values_received": len(leaked),
               "released_uncovered": len(early),
               "checked_answers": len(checked),
               "checked": checked,
               "skipped_checkpoint_while_computing": len(differing) - len(checked),
               "checked_segments": len(delays),
               "release_after_commit_ms": {
                   "median": round(delays[len(delays) // 2], 1) if delays else None,
                   "max": round(delays[-1], 1) if delays else None}}
    return failures, figures
