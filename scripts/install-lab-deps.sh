#!/usr/bin/env bash
# Install what the lab needs at run time: firmware for the guests and the
# tools that build the namespaces.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

apt_install_missing iproute2 iputils-ping python3 seabios ipxe-qemu qemu-system-data
