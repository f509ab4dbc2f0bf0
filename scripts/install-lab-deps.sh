#!/usr/bin/env bash
# Install what the lab needs at run time: firmware for the guests, the
# tools that build the namespaces, for colo-nic iptables (its
# colo-proxy-script.sh) and tcpdump (the client's captures), and a C
# compiler with a static libc for the guest's helpers
# (tests/guest/src, built by tests/guest/build-guest.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

apt_install_missing iproute2 iputils-ping python3 seabios ipxe-qemu qemu-system-data \
    iptables tcpdump gcc libc6-dev
