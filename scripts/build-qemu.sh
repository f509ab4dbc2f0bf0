#!/usr/bin/env bash
# Configure (once) and build QEMU in build/qemu/build: x86_64-softmmu with
# COLO's pieces (replication, colo-proxy, colo-nic), slirp, TCG and KVM,
# plus the tools (qemu-img) and the test binaries, with ccache.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=${1:-$COLO_FT_BUILD/qemu}
shift || true
out=$tree/build
# Where Debian's seabios, ipxe-qemu and qemu-system-data put the firmware.
FIRMWARE_PATH=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
# Trees at other paths (the unpatched one) share the compiler cache.
export CCACHE_BASEDIR=$COLO_FT_BUILD

"$COLO_FT_ROOT/scripts/install-build-deps.sh"
[ -e "$tree/.git" ] || "$COLO_FT_ROOT/scripts/prepare-tree.sh" qemu "$tree"

# colo-nic exists only in the series (and from its patch on)
colo_nic=()
if grep -q "^option('colo_nic'" "$tree/meson_options.txt"; then
    colo_nic=(--enable-colo-nic)
fi

if [ ! -f "$out/build.ninja" ]; then
    note "configuring $tree"
    mkdir -p "$out"
    (cd "$out" && run_quiet configure ../configure \
        --python=/usr/bin/python3 \
        --target-list=x86_64-softmmu \
        --enable-tcg --enable-kvm --enable-slirp \
        --enable-replication --enable-colo-proxy "${colo_nic[@]}" \
        --firmwarepath="$FIRMWARE_PATH" \
        --enable-tools --disable-install-blobs --disable-docs --disable-werror \
        --disable-gtk --disable-sdl --disable-vnc --disable-opengl \
        --disable-spice --disable-xen --disable-rust)
fi
note "building $out"
jobs=$(nproc)
run_quiet "ninja" ninja -C "$out" -j "$jobs" qemu-system-x86_64 qemu-img "$@"

# Run from the build tree, QEMU looks for firmware under qemu-bundle/:
# point the configured firmware directories at Debian's.
IFS=: read -ra dirs <<<"$FIRMWARE_PATH"
for d in "${dirs[@]}"; do
    link=$out/qemu-bundle$d
    [ -e "$link" ] && [ ! -L "$link" ] && continue
    mkdir -p "$(dirname "$link")"
    ln -sfn "$d" "$link"
done
