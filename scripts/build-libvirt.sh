#!/usr/bin/env bash
# Configure (once) and build libvirt in build/libvirt/build: the QEMU
# driver, the daemon, the remote driver and virsh, with the tests and
# without the drivers, storage backends and docs the series does not
# touch, with ccache.
#
# Usage: build-libvirt.sh [DIR [NINJA-TARGET...]]   (default build/libvirt)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=${1:-$COLO_FT_BUILD/libvirt}
shift || true
out=$tree/build
export CCACHE_BASEDIR=$COLO_FT_BUILD

"$COLO_FT_ROOT/scripts/install-build-deps.sh" libvirt
[ -e "$tree/.git" ] || "$COLO_FT_ROOT/scripts/prepare-tree.sh" libvirt "$tree"

disabled=(driver_bhyve driver_esx driver_hyperv driver_interface driver_libxl driver_lxc
          driver_ch driver_network driver_openvz driver_vbox driver_vmware driver_vz
          storage_disk storage_gluster storage_iscsi storage_iscsi_direct storage_lvm
          storage_mpath storage_rbd storage_scsi storage_vstorage storage_zfs
          docs nls wireshark_dissector nss sanlock glusterfs libiscsi libssh libssh2
          netcf numactl polkit sasl firewalld audit bash_completion expensive_tests)
# no_git: the submodule is already in the tree (a gitlink without a
# .gitmodules URL, see prepare-tree.sh), git must not fetch it
opts=(-Ddriver_qemu=enabled -Ddriver_remote=enabled -Ddriver_libvirtd=enabled
      -Ddriver_test=enabled -Dstorage_fs=enabled -Dtests=enabled -Dgit_werror=disabled
      -Dno_git=true)
for o in "${disabled[@]}"; do
    opts+=("-D$o=disabled")
done
if [ ! -f "$out/build.ninja" ]; then
    note "configuring $tree"
    (cd "$tree" && run_quiet "meson setup" meson setup build --prefix=/usr \
        --localstatedir=/var --sysconfdir=/etc "${opts[@]}")
else
    # an existing build directory gets the options of this script too
    run_quiet "meson configure" meson configure "$out" "${opts[@]}"
fi
# check-driverimpls and check-aclrules read the LXC driver's generated
# protocol files, which a build without that driver does not make.
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
    targets=(all src/lxc/lxc_monitor_protocol.h src/lxc/lxc_monitor_protocol.c
             src/lxc/lxc_monitor_dispatch.h)
note "building $out"
run_quiet "ninja" ninja -C "$out" -j "$(nproc)" "${targets[@]}"
