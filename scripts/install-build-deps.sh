#!/usr/bin/env bash
# Install what building the patched QEMU needs, from Debian's packages.
# meson >= 1.5 comes from the release's backports suite on the machine's
# own mirror, which is enabled for that one package if it is not already.
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

apt_install_missing build-essential pkg-config ninja-build ccache git \
    python3 python3-venv python3-setuptools \
    libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev libslirp-dev \
    libnetfilter-queue-dev libnfnetlink-dev libaio-dev flex bison \
    seabios ipxe-qemu qemu-system-data

if ! meson_ok; then
    enable_backports
    APT_EXTRA="-t $(debian_backports_suite)" apt_install_missing meson
    meson_ok || APT_EXTRA="-t $(debian_backports_suite)" run_quiet "meson upgrade" \
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -t "$(debian_backports_suite)" meson
    meson_ok || die "meson >= 1.5 is needed, $(/usr/bin/meson --version 2>/dev/null || echo none) is installed"
fi
