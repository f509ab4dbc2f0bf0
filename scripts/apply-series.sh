#!/usr/bin/env bash
# Apply patches/series on top of the current HEAD of a QEMU work tree.
# Usage: apply-series.sh DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$1
series=$COLO_FT_ROOT/patches/series
[ -f "$series" ] || exit 0
while read -r patch; do
    case "$patch" in ''|'#'*) continue ;; esac
    [ -f "$COLO_FT_ROOT/patches/$patch" ] || die "patches/series names $patch, which does not exist"
    git -C "$tree" -c user.name=colo-ft -c user.email=colo-ft@invalid \
        am -q --keep-cr --committer-date-is-author-date "$COLO_FT_ROOT/patches/$patch" >/dev/null 2>&1 || {
        git -C "$tree" am --abort >/dev/null 2>&1 || true
        die "patches/$patch does not apply"
    }
done <"$series"
