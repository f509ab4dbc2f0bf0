#!/usr/bin/env bash
# Make the pinned upstream QEMU source available, verified and cached.
#
# Prints the path of the unpacked source tree (Debian's patches applied).
# QEMU_SRC=<dir> uses a tree the user already has, after checking its
# VERSION. Otherwise the source package named in upstream.conf is fetched
# with 'apt-get source' from the machine's own Debian mirror, through a
# private apt configuration (the system's apt setup is left alone), and
# its .dsc and tarballs are checked against upstream.sha256.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$COLO_FT_ROOT/upstream.conf"

upstream_version=${QEMU_DEB_VERSION#*:}
upstream_version=${upstream_version%%+*}
src_dir=$COLO_FT_CACHE/upstream/qemu-$upstream_version
apt_dir=$COLO_FT_CACHE/apt

check_tree_version() {
    local dir=$1 found
    [ -f "$dir/VERSION" ] || die "$dir is not a QEMU source tree (no VERSION file)"
    found=$(cat "$dir/VERSION")
    [ "$found" = "$upstream_version" ] ||
        die "$dir holds QEMU $found, the series is pinned to $upstream_version"
}

if [ -n "${QEMU_SRC:-}" ]; then
    [ -d "$QEMU_SRC" ] || die "QEMU_SRC=$QEMU_SRC is not a directory"
    check_tree_version "$QEMU_SRC"
    cd "$QEMU_SRC" && pwd
    exit 0
fi

if [ -f "$src_dir/.colo-ft-verified" ]; then
    echo "$src_dir"
    exit 0
fi

apt_install_missing dpkg-dev xz-utils
mirror=$(debian_mirror_uri) ||
    die "no Debian mirror found in /etc/apt/sources.list{,.d}; set QEMU_SRC to an unpacked qemu $upstream_version source"

# A private apt configuration that knows only deb-src of the pinned suites.
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc/sources.list.d"
{
    for suite in $QEMU_DEB_SUITES; do
        echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main"
    done
} >"$apt_dir/etc/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/etc/sources.list"
          -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
          -o "Dir::State::Lists=$apt_dir/lists"
          -o "Dir::Cache=$apt_dir"
          -o "APT::Sandbox::User=root"
          -o "Debug::NoLocking=1")
run_quiet "apt-get update (deb-src $QEMU_DEB_SUITES)" apt-get "${apt_opts[@]}" update

available=$(apt-cache "${apt_opts[@]}" showsrc "$QEMU_DEB_PACKAGE" 2>/dev/null |
            awk '/^Version:/ { print $2 }' | sort -u)
if ! grep -qxF "$QEMU_DEB_VERSION" <<<"$available"; then
    offered=$(grep '^1:10\.0\.' <<<"$available" | tr '\n' ' ')
    die "$QEMU_DEB_PACKAGE $QEMU_DEB_VERSION is not on the mirror (10.0.x offered: ${offered:-none}); move the pin in upstream.conf and rebase the series"
fi

dl_dir=$COLO_FT_CACHE/upstream/download
rm -rf "$dl_dir" && mkdir -p "$dl_dir"
(cd "$dl_dir" &&
    run_quiet "apt-get source $QEMU_DEB_PACKAGE=$QEMU_DEB_VERSION" \
        apt-get "${apt_opts[@]}" source --download-only "$QEMU_DEB_PACKAGE=$QEMU_DEB_VERSION")

# Every file the .dsc brings must match a checksum committed in the repo.
(cd "$dl_dir" && sha256sum --quiet --strict -c "$COLO_FT_ROOT/upstream.sha256" >/dev/null 2>&1) ||
    die "checksum mismatch for the downloaded $QEMU_DEB_PACKAGE $QEMU_DEB_VERSION (see upstream.sha256)"
for f in "$dl_dir"/*; do
    grep -qF "  ${f##*/}" "$COLO_FT_ROOT/upstream.sha256" ||
        die "${f##*/} was downloaded but has no checksum in upstream.sha256"
done

rm -rf "$src_dir"
dsc=$(ls "$dl_dir"/*.dsc)
run_quiet "dpkg-source -x" dpkg-source --no-check -x "$dsc" "$src_dir"
check_tree_version "$src_dir"
touch "$src_dir/.colo-ft-verified"
echo "$src_dir"
