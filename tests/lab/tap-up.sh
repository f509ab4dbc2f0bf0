#!/bin/sh
# QEMU's tap script in the lab: put the new tap on this host's LAN bridge.
ip link set "$1" up && ip link set "$1" master br0
