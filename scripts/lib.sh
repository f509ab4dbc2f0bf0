# Shared helpers for the colo-ft scripts: sourced, never run.
# shellcheck shell=bash

COLO_FT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COLO_FT_CACHE=${COLO_FT_CACHE:-$COLO_FT_ROOT/cache}
COLO_FT_BUILD=${COLO_FT_BUILD:-$COLO_FT_ROOT/build}

# One clear line on stderr, then exit.
die() {
    printf '%s: error: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

note() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# Run quietly; on failure show the tail of what it printed and die.
run_quiet() {
    local what=$1 log
    shift
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        tail -15 "$log" >&2
        rm -f "$log"
        die "$what failed"
    fi
    rm -f "$log"
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "root is needed for: $*"
    fi
}

# Install the Debian packages in "$@" that are missing.
# APT_EXTRA may carry apt-get options (e.g. a target release).
apt_install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    note "installing ${missing[*]}"
    if [ ! -e "$COLO_FT_CACHE/.apt-updated" ]; then
        run_quiet "apt-get update" as_root apt-get update
        mkdir -p "$COLO_FT_CACHE" && touch "$COLO_FT_CACHE/.apt-updated"
    fi
    # shellcheck disable=SC2086
    run_quiet "installing ${missing[*]}" as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends ${APT_EXTRA:-} "${missing[@]}"
}

# The URI of the machine's Debian archive mirror, read from its own apt
# sources (deb822 or one-line format); the security archive is skipped.
debian_mirror_uri() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f" |
              grep -v -- '-security' | grep '/debian/\?$' | head -1)
        [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:/) { print $i; break } }' "$f" |
              grep -v -- '-security' | grep '/debian/\?$' | head -1)
        [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
    done
    return 1
}

# Debian's backports suite for this release (e.g. bookworm-backports).
debian_backports_suite() {
    . /etc/os-release
    echo "${VERSION_CODENAME}-backports"
}

# The components of the project: each has components/NAME.conf (its pin,
# its series directory, tree_version()) and NAME.sha256.
COLO_FT_COMPONENTS="qemu libvirt"

# Load component NAME: sets COMPONENT, DEB_*, PATCH_DIR (absolute),
# SERIES and TREE (its work tree under build/), and tree_version().
load_component() {
    local name=${1:-}
    case " $COLO_FT_COMPONENTS " in
    *" $name "*) ;;
    *) die "unknown component '${name}' (one of: $COLO_FT_COMPONENTS)" ;;
    esac
    COMPONENT=$name
    COMPONENT_SUMS=$COLO_FT_ROOT/components/$name.sha256
    # shellcheck disable=SC1090
    . "$COLO_FT_ROOT/components/$name.conf"
    PATCH_DIR=$COLO_FT_ROOT/$PATCH_DIR
    SERIES=$PATCH_DIR/series
    TREE=$COLO_FT_BUILD/$name
}

# The upstream version of the pin: 1:10.0.13+ds-0+deb13u1 -> 10.0.13.
upstream_version() {
    local v=${DEB_VERSION#*:}
    v=${v%%-*}
    echo "${v%%+*}"
}
