#!/usr/bin/env python3
"""make demo: the COLO story told through virsh, with one libvirtd per
lab host. A running domain that writes to its disk and serves a client is
protected with `virsh migrate --colo`; the primary's host dies, the
secondary waits ('colo peer lost') until the demo, playing management,
has made sure the primary is gone and runs `virsh domjobabort
--colo-failover`; the survivor is protected again with the same `virsh
migrate --colo` to the first host, and that pair fails over too. The
timeline prints as it happens; a summary follows."""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = "libvirt-colo-reprotect"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--libvirt", required=True, help="libvirt's build directory")
    args = ap.parse_args()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "run.py"), SCENARIO,
                             "--qemu", args.qemu, "--guest", args.guest,
                             "--libvirt", args.libvirt],
                            stdout=subprocess.PIPE, text=True)
    last = ""
    for line in proc.stdout:
        if line.startswith("{"):
            last = line
        else:
            print(line, end="", flush=True)
    proc.wait()
    summary = json.loads(last) if last else {"ok": False, "error": "no summary"}
    req = summary.get("requests", {})
    print(f"\n{SCENARIO}: {'PASS' if summary.get('ok') else 'FAIL'}")
    for key in ("error", "failures"):
        if summary.get(key):
            print(f"  {key}: {summary[key]}")
    if req:
        print(f"  requests sent {req['sent']}, answered {req['answered']}, "
              f"lost {req['lost']}, duplicated {req['duplicated']}; longest wait "
              f"for an answer {summary.get('max_answer_gap_s')} s")
        print(f"  protected again: {summary.get('reprotected', {}).get('domstate')}")
        print(f"  at the end: {summary.get('domstate')}")
    print(f"  details: {summary.get('rundir')}")
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
