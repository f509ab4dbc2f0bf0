"""Receive UDP datagrams for a while, in the client namespace; print one
JSON object {"PORT": [[host time, payload], ...], ...} at the end.

  python3 -m colo_lab.udp_listen --port 5353 --port 5354
          [--group 224.0.0.251 --ifaddr 10.77.0.1] --seconds 20

Each port is bound on every address, so it receives unicast, broadcast
and (with --group, joined on the interface of --ifaddr) multicast.
"""

import argparse
import json
import select
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--group", action="append", default=[])
    ap.add_argument("--ifaddr", default="0.0.0.0")
    ap.add_argument("--seconds", type=float, required=True)
    opts = ap.parse_args()
    socks = {}
    for port in opts.port:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        for group in opts.group:
            mreq = socket.inet_aton(group) + socket.inet_aton(opts.ifaddr)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        socks[s] = port
    got = {str(port): [] for port in opts.port}
    print(json.dumps({"listening": True}), flush=True)
    deadline = time.monotonic() + opts.seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(list(socks), [], [], left)
        for s in ready:
            data = s.recv(65536)
            got[str(socks[s])].append([time.time(), data.decode(errors="replace").strip()])
    print(json.dumps(got), flush=True)


if __name__ == "__main__":
    main()
