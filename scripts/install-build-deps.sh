#!/usr/bin/env bash
# Install what building a component needs, from Debian's packages.
# meson >= 1.5 (QEMU's minimum) comes from the release's backports suite
# on the machine's own mirror, which is enabled for that one package if it
# is not already.
#
# Usage: install-build-deps.sh [qemu|libvirt]   (default qemu)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

enable_backports() {
    local suite mirror list=/etc/apt/sources.list.d/colo-ft-backports.list
    suite=$(debian_backports_suite)
    grep -rqs -- "$suite" /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
    mirror=$(debian_mirror_uri) || die "no Debian mirror in the apt sources; install meson >= 1.5 by hand"
    note "enabling $suite from $mirror for meson"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" |
        as_root tee "$list" >/dev/null
    rm -f "$COLO_FT_CACHE/.apt-updated"
}

meson_ok() {
    local v
    v=$(/usr/bin/meson --version 2>/dev/null) || return 1
    dpkg --compare-versions "$v" ge 1.5
}

common=(build-essential pkg-config ninja-build ccache git python3 libglib2.0-dev)
case "${1:-qemu}" in
qemu)
    apt_install_missing "${common[@]}" python3-venv python3-setuptools \
        libpixman-1-dev zlib1g-dev libfdt-dev libslirp-dev \
        libnetfilter-queue-dev libnfnetlink-dev libaio-dev flex bison \
        seabios ipxe-qemu qemu-system-data
    ;;
libvirt)
    apt_install_missing "${common[@]}" python3-docutils perl xsltproc libxml2-utils \
        libxml2-dev libjson-c-dev libgnutls28-dev libtirpc-dev libnl-3-dev \
        libnl-route-3-dev libcap-ng-dev libacl1-dev libattr1-dev libudev-dev \
        libpciaccess-dev libselinux1-dev libapparmor-dev libdevmapper-dev
    ;;
*) die "unknown component '$1'" ;;
esac

if ! meson_ok; then
    enable_backports
    APT_EXTRA="-t $(debian_backports_suite)" apt_install_missing meson
    meson_ok || APT_EXTRA="-t $(debian_backports_suite)" run_quiet "meson upgrade" \
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -t "$(debian_backports_suite)" meson
    meson_ok || die "meson >= 1.5 is needed, $(/usr/bin/meson --version 2>/dev/null || echo none) is installed"
fi
