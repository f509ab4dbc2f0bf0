"""Echo streams to the guest's echo service (port 7), run in the client
namespace: connection after connection, each sending a numbered line
every --interval-ms for --hold-ms and reading its echo back. Connections
that live across checkpoints, with client data arriving while one is
taken, are what a rewriter that translates with the wrong epoch's
offsets breaks. Prints one JSON line: what was sent, echoed and how
late."""

import argparse
import json
import socket
import time


def one_connection(host, port, interval_s, hold_s, timeout_s, rtts, totals):
    """Send a line every interval_s for hold_s, then wait up to timeout_s
    for the last echoes; counts them in totals as it goes."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        raise OSError(f"connect: {exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = 0
    pending, buf = {}, b""
    now = time.monotonic()
    next_send, end = now, now + hold_s
    try:
        while now < end + timeout_s and (now < end or pending):
            if now < end and now >= next_send:
                line = f"line {sent}".encode()
                pending[line] = now
                sock.settimeout(timeout_s)
                sock.sendall(line + b"\n")
                sent += 1
                totals["sent"] += 1
                next_send += interval_s
            sock.settimeout(max(next_send - now, 0.001) if now < end else end + timeout_s - now)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                data = None
            if data == b"":
                break
            buf += data or b""
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                t = pending.pop(line, None)
                if t is not None:
                    rtts.append(time.monotonic() - t)
                    totals["echoed"] += 1
            now = time.monotonic()
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("--port", type=int, default=7)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--hold-ms", type=float, default=700.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    rtts, totals, conns, failed = [], {"sent": 0, "echoed": 0}, 0, []
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        conns += 1
        try:
            one_connection(args.host, args.port, args.interval_ms / 1000,
                           args.hold_ms / 1000, args.timeout, rtts, totals)
        except OSError as exc:
            failed.append(str(exc))
    rtts.sort()
    ms = [round(r * 1000, 1) for r in rtts]
    print(json.dumps({
        "connections": conns, "failed": failed[:5], "lines_sent": totals["sent"],
        "lines_echoed": totals["echoed"],
        "rtt_ms": {"median": ms[len(ms) // 2] if ms else None,
                   "p99": ms[int(len(ms) * 0.99)] if ms else None,
                   "max": ms[-1] if ms else None},
        "late": sum(1 for r in ms if r >= 200)}))


if __name__ == "__main__":
    main()
