"""The lab's client, run inside the client namespace.

Sends numbered requests to the guest's /cgi-bin/count one after another
and prints one JSON line per request to stdout. A request that fails (no
connection, timeout, error) is sent again with the same id until it is
answered or --give-up seconds have passed; it is then reported lost. On
SIGTERM it finishes the request in flight and exits.

  python3 -m colo_lab.client URL [--requests N] [--timeout S] [--give-up S]
  python3 -m colo_lab.client URL --get PATH     (one request, body printed)
  python3 -m colo_lab.client URL --rate N       (N requests, JSON timing)
  python3 -m colo_lab.client URL --bulk KIB --repeat R   (downloads, JSON timing)
"""

import argparse
import json
import signal
import sys
import time
import urllib.error
import urllib.request

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def get(url, timeout):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode(errors="replace").strip()


def parse_answer(body):
    fields = dict(kv.split("=", 1) for kv in body.split() if "=" in kv)
    return int(fields["id"]), int(fields["count"]), int(fields["seen"])


def one_request(base, rid, timeout, give_up):
    """Returns the record of one request, sent until answered or lost."""
    rec = {"id": rid, "sent": time.time(), "attempts": 0}
    deadline = time.monotonic() + give_up
    while True:
        rec["attempts"] += 1
        try:
            body = get(f"{base}/cgi-bin/count?id={rid}", timeout)
            got_id, count, seen = parse_answer(body)
            if got_id != rid:
                raise ValueError(f"answer for id {got_id}")
            rec.update(answered=time.time(), count=count, seen=seen)
            return rec
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            rec["error"] = str(exc)[:200]
            if time.monotonic() > deadline:
                rec["lost"] = True
                return rec
            if stop and rec["attempts"] > 1:
                rec["lost"] = True
                return rec
            time.sleep(0.05)


def measure_rate(base, first_id, n, timeout):
    t0 = time.monotonic()
    for rid in range(first_id, first_id + n):
        parse_answer(get(f"{base}/cgi-bin/count?id={rid}", timeout))
    return {"requests": n, "seconds": time.monotonic() - t0}


def measure_bulk(base, kib, repeat, timeout):
    total, t0 = 0, time.monotonic()
    for _ in range(repeat):
        with urllib.request.urlopen(f"{base}/cgi-bin/blob?kib={kib}", timeout=timeout) as r:
            total += len(r.read())
    if total != kib * 1024 * repeat:
        raise ValueError(f"got {total} bytes, expected {kib * 1024 * repeat}")
    return {"bytes": total, "seconds": time.monotonic() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--requests", type=int, default=0, help="0: until SIGTERM")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--give-up", type=float, default=60.0)
    ap.add_argument("--first-id", type=int, default=1)
    ap.add_argument("--get")
    ap.add_argument("--rate", type=int)
    ap.add_argument("--bulk", type=int)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    if args.rate or args.bulk:
        try:
            if args.rate:
                res = measure_rate(args.url, args.first_id, args.rate, args.timeout)
            else:
                res = measure_bulk(args.url, args.bulk, args.repeat, args.timeout)
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)
        print(json.dumps(res))
        return

    if args.get:
        try:
            print(get(args.url + args.get, args.timeout))
        except (OSError, urllib.error.URLError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)
        return

    signal.signal(signal.SIGTERM, on_term)
    rid = args.first_id
    while not stop and (args.requests == 0 or rid < args.first_id + args.requests):
        rec = one_request(args.url, rid, args.timeout, args.give_up)
        print(json.dumps(rec), flush=True)
        rid += 1


if __name__ == "__main__":
    main()
