#!/usr/bin/env bash
# Make a component's pinned upstream source available, verified and cached.
#
# Usage: fetch-upstream.sh COMPONENT   (qemu or libvirt)
# Prints the path of the unpacked source tree (Debian's patches applied).
# QEMU_SRC=<dir> (LIBVIRT_SRC=<dir>) uses a tree the user already has,
# after checking its version. Otherwise the source package named in
# components/COMPONENT.conf is fetched with 'apt-get source' from the
# machine's own Debian mirror, through a private apt configuration (the
# system's apt setup is left alone), and every file is checked against
# components/COMPONENT.sha256.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
load_component "${1:-}"

version=$(upstream_version)
src_dir=$COLO_FT_CACHE/upstream/$COMPONENT-$version
apt_dir=$COLO_FT_CACHE/apt
user_src_var=${COMPONENT^^}_SRC
user_src=${!user_src_var:-}

check_tree_version() {
    local dir=$1 found
    found=$(tree_version "$dir") || die "$dir is not a $COMPONENT source tree"
    [ "$found" = "$version" ] ||
        die "$dir holds $COMPONENT $found, the series is pinned to $version"
}

if [ -n "$user_src" ]; then
    [ -d "$user_src" ] || die "$user_src_var=$user_src is not a directory"
    check_tree_version "$user_src"
    cd "$user_src" && pwd
    exit 0
fi

if [ -f "$src_dir/.colo-ft-verified" ]; then
    echo "$src_dir"
    exit 0
fi

apt_install_missing dpkg-dev xz-utils patch
mirror=$(debian_mirror_uri) ||
    die "no Debian mirror found in /etc/apt/sources.list{,.d}; set $user_src_var to an unpacked $COMPONENT $version source"

# A private apt configuration that knows only deb-src of the pinned suites.
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc/sources.list.d"
{
    for suite in $DEB_SUITES; do
        echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main"
    done
} >"$apt_dir/etc/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/etc/sources.list"
          -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
          -o "Dir::State::Lists=$apt_dir/lists"
          -o "Dir::Cache=$apt_dir"
          -o "APT::Sandbox::User=root"
          -o "Debug::NoLocking=1")
run_quiet "apt-get update (deb-src $DEB_SUITES)" apt-get "${apt_opts[@]}" update

available=$(apt-cache "${apt_opts[@]}" showsrc "$DEB_PACKAGE" 2>/dev/null |
            awk '/^Version:/ { print $2 }' | sort -u)
if ! grep -qxF "$DEB_VERSION" <<<"$available"; then
    offered=$(grep "^$DEB_VERSION_FAMILY" <<<"$available" | tr '\n' ' ')
    die "$DEB_PACKAGE $DEB_VERSION is not on the mirror (offered: ${offered:-none}); move the pin in components/$COMPONENT.conf and rebase the series"
fi

# apt-get fails when a file of the package is missing on the mirror (the
# archive may drop a .dsc): what counts is that every file with a checksum
# arrived, and that nothing arrived without one.
dl_dir=$COLO_FT_CACHE/upstream/download-$COMPONENT
rm -rf "$dl_dir" && mkdir -p "$dl_dir"
(cd "$dl_dir" && apt-get "${apt_opts[@]}" source --download-only \
    "$DEB_PACKAGE=$DEB_VERSION" >"$dl_dir.log" 2>&1) || true
(cd "$dl_dir" && sha256sum --quiet --strict -c "$COMPONENT_SUMS" >/dev/null 2>&1) || {
    tail -5 "$dl_dir.log" >&2
    die "checksum mismatch or missing file for the downloaded $DEB_PACKAGE $DEB_VERSION (see components/$COMPONENT.sha256)"
}
for f in "$dl_dir"/*; do
    grep -qF "  ${f##*/}" "$COMPONENT_SUMS" && continue
    case "$f" in
    # a .dsc (or signature) the pin does not rely on: the verified
    # tarballs are unpacked without it
    *.dsc|*.asc) note "ignoring ${f##*/}, which has no checksum in components/$COMPONENT.sha256"
                 rm -f "$f" ;;
    *) die "${f##*/} was downloaded but has no checksum in components/$COMPONENT.sha256" ;;
    esac
done

# With its .dsc, dpkg-source unpacks the package. Without it, do what it
# would: the orig tarball, debian/ beside it, Debian's quilt series applied.
unpack_without_dsc() {
    local orig debian_tar patch
    orig=$(ls "$dl_dir"/*.orig.tar.* | grep -v '\.asc$')
    debian_tar=$(ls "$dl_dir"/*.debian.tar.*)
    mkdir -p "$src_dir"
    tar -C "$src_dir" --strip-components=1 -xf "$orig"
    tar -C "$src_dir" -xf "$debian_tar"
    [ -f "$src_dir/debian/patches/series" ] || return 0
    while read -r patch _; do
        case "$patch" in ''|'#'*) continue ;; esac
        # as dpkg-source does: no fuzz, no backup files
        patch -d "$src_dir" -p1 -s -N -F 0 --no-backup-if-mismatch \
            <"$src_dir/debian/patches/$patch" >/dev/null ||
            die "Debian's patch $patch does not apply"
    done <"$src_dir/debian/patches/series"
}

unpack() {
    local dsc
    dsc=$(ls "$dl_dir"/*.dsc 2>/dev/null) || { unpack_without_dsc; return; }
    run_quiet "dpkg-source -x" dpkg-source --no-check -x "$dsc" "$src_dir"
}

rm -rf "$src_dir"
unpack
check_tree_version "$src_dir"
touch "$src_dir/.colo-ft-verified"
echo "$src_dir"
