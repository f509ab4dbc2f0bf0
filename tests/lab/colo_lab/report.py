"""Figures of a lab run: checkpoints and pauses from the trace events,
request accounting from the client's records."""

import re
import statistics

TRACE_LINE = re.compile(r"^\d+@(\d+\.\d+):(\w+) (.*)$")


def trace_events(path):
    """(host time, event name, text) of each trace line."""
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = TRACE_LINE.match(line)
                if m:
                    yield float(m.group(1)), m.group(2), m.group(3)
    except FileNotFoundError:
        return


class CheckpointFollower:
    """Counts completed checkpoints in a growing trace file, reading only
    what was appended since the last call."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.count = 0
        self.stopped = False

    def update(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.count
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if "colo_vm_state_change" not in line:
                continue
            if "'run' => 'stop'" in line:
                self.stopped = True
            elif "'stop' => 'run'" in line and self.stopped:
                self.count += 1
                self.stopped = False
        return self.count


def checkpoint_pauses(path):
    """(stop time, pause seconds) of each completed checkpoint: a
    'run' => 'stop' followed by 'stop' => 'run' of colo_vm_state_change."""
    pauses, stopped_at = [], None
    for t, name, text in trace_events(path):
        if name != "colo_vm_state_change":
            continue
        if "'run' => 'stop'" in text:
            stopped_at = t
        elif "'stop' => 'run'" in text and stopped_at is not None:
            pauses.append((stopped_at, t - stopped_at))
            stopped_at = None
    return pauses


PHASE_TEXT = re.compile(r"^(\S+) took (-?\d+) us$")


def phase_medians(path):
    """Median duration in ms of each checkpoint phase (colo_checkpoint_phase)."""
    phases = {}
    for _, name, text in trace_events(path):
        m = PHASE_TEXT.match(text) if name == "colo_checkpoint_phase" else None
        if m:
            phases.setdefault(m.group(1), []).append(int(m.group(2)) / 1000)
    return {phase: round(statistics.median(ms), 2) for phase, ms in phases.items()}


def percentile(values, pct):
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def pause_summary(pauses):
    ms = [p * 1000 for _, p in pauses]
    if not ms:
        return {"median": None, "p95": None, "max": None}
    return {"median": round(statistics.median(ms), 1),
            "p95": round(percentile(ms, 95), 1),
            "max": round(max(ms), 1)}


def request_summary(records):
    """Counts every request: answered, lost, processed twice (the guest's
    own 'seen' count), and counter anomalies between consecutive answers:
    a jump of more than one (a request processed that nobody sent or that
    was processed twice) or a step back (guest state older than an answer
    the client already had)."""
    answered = [r for r in records if "answered" in r]
    lost = [r for r in records if r.get("lost")]
    duplicated = sum(1 for r in answered if r["seen"] > 1)
    gaps = rollbacks = 0
    prev = None
    lost_ids = {r["id"] for r in lost}
    for r in sorted(answered, key=lambda r: r["id"]):
        if prev is not None:
            step = r["count"] - prev["count"]
            unanswered_between = sum(1 for i in range(prev["id"] + 1, r["id"]) if i in lost_ids)
            if step <= 0:
                rollbacks += 1
            elif step > 1 + unanswered_between:
                gaps += 1
        prev = r
    return {"sent": len(records), "answered": len(answered), "lost": len(lost),
            "duplicated": duplicated, "counter_gaps": gaps, "counter_rollbacks": rollbacks,
            "retried": sum(1 for r in records if r["attempts"] > 1)}


def first_answer_after(records, t):
    times = [r["answered"] for r in records if r.get("answered", 0) > t]
    return min(times) - t if times else None


def check_requests(summary, failures):
    """The FT verdict on summary["requests"] (request_summary()): some
    answered, none lost, none processed twice, no counter anomaly."""
    req = summary["requests"]
    if req["answered"] == 0:
        failures.append("no request answered")
    for key in ("lost", "duplicated", "counter_gaps", "counter_rollbacks"):
        if req[key]:
            failures.append(f"{req[key]} request(s) {key.replace('_', ' ')}")
