#!/usr/bin/env bash
# Build the lab's test guest from Debian packages: the kernel of
# linux-image-amd64 (extracted with dpkg-deb, never installed) and a
# busybox-static initramfs with the e1000, virtio-net and IDE disk
# modules, the services in rootfs/ and the helpers in src/ (static
# binaries in /bin). Cached by the package versions, rootfs/ and src/.
#
# Prints the directory holding vmlinuz and initrd.img.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

here=$COLO_FT_ROOT/tests/guest
modules="e1000 virtio_pci virtio_net ata_piix sd_mod"

kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

pkg=$(kernel_pkg)
if [ -z "$pkg" ]; then
    run_quiet "apt-get update" as_root apt-get update
    pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || die "no linux-image-amd64 package known to apt"
kver=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
bbver=$(apt-cache policy busybox-static | awk '/Candidate:/ { print $2 }')
key=$( (echo "$pkg $kver $bbver $modules"; cd "$here" && tar -cf - rootfs src build-guest.sh) |
       sha256sum | cut -c1-16)
out=$COLO_FT_CACHE/guest/$key
if [ -f "$out/initrd.img" ] && [ -f "$out/vmlinuz" ]; then
    echo "$out"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debs=$COLO_FT_CACHE/guest/debs
mkdir -p "$debs"
(cd "$debs" && run_quiet "apt-get download $pkg busybox-static" apt-get download "$pkg" busybox-static)
dpkg-deb -x "$(ls "$debs"/"${pkg}"_*.deb | head -1)" "$work/kernel"
dpkg-deb -x "$(ls "$debs"/busybox-static_*.deb | head -1)" "$work/bb"
bb=$work/bb/bin/busybox
moddir=$(echo "$work"/kernel/lib/modules/*)

# module_path NAME: the .ko of module NAME ('-' and '_' are the same).
module_path() {
    find "$moddir/kernel" -name "$1.ko" -o -name "$(echo "$1" | tr _ -).ko" \
        -o -name "$(echo "$1" | tr - _).ko" | head -1
}

# Emit NAME after its dependencies, each module once.
declare -A loaded=()
add_module() {
    local name=$1 path dep
    [ -n "${loaded[$name]:-}" ] && return 0
    path=$(module_path "$name")
    [ -n "$path" ] || die "module $name not found in $pkg"
    for dep in $(grep -a -o 'depends=[a-z0-9_,-]*' "$path" | head -1 | cut -d= -f2 | tr , ' '); do
        add_module "$dep"
    done
    loaded[$name]=1
    cp "$path" "$work/root/lib/modules/$name.ko"
    echo "$name" >>"$work/root/lib/modules/load-order"
}

mkdir -p "$work/root/lib/modules" "$work/root/proc" "$work/root/sys" "$work/root/dev"
cp -a "$here/rootfs/." "$work/root/"
cp "$bb" "$work/root/bin/busybox"
for src in "$here"/src/*.c; do
    name=$(basename "$src" .c)
    run_quiet "cc $name" cc -static -Os -Wall -o "$work/root/bin/$name" "$src"
done
for m in $modules; do
    add_module "$m"
done

mkdir -p "$out.tmp"
cp "$(ls "$work"/kernel/boot/vmlinuz-* | head -1)" "$out.tmp/vmlinuz"
(cd "$work/root" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null | gzip -9n) \
    >"$out.tmp/initrd.img"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
