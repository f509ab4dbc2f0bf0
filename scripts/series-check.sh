#!/usr/bin/env bash
# Check that patches/ is the product of build/qemu and applies cleanly:
#  - build/qemu has no uncommitted changes to tracked files;
#  - exporting build/qemu gives exactly patches/;
#  - patches/series applies to a fresh upstream tree.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$COLO_FT_BUILD/qemu
status=0
tmp=$(mktemp -d)
cleanup() {
    [ -d "$tmp/fresh" ] && git -C "$tree" worktree remove --force "$tmp/fresh" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ -d "$tree/.git" ]; then
    dirty=$(git -C "$tree" status --porcelain --untracked-files=no)
    if [ -n "$dirty" ]; then
        echo "build/qemu has uncommitted changes:"
        echo "$dirty" | sed 's/^/  /'
        status=1
    fi
    "$COLO_FT_ROOT/scripts/export-series.sh" "$tmp/exported"
    if ! diff -r -q "$tmp/exported" "$COLO_FT_ROOT/patches" >"$tmp/diff"; then
        echo "build/qemu and patches/ differ (run 'make export'):"
        sed -e "s|$tmp/exported|build/qemu|g" -e "s|$COLO_FT_ROOT/||g" -e 's/^/  /' "$tmp/diff"
        status=1
    fi
    git -C "$tree" worktree prune
    git -C "$tree" worktree add -q --detach "$tmp/fresh" upstream
    if ! "$COLO_FT_ROOT/scripts/apply-series.sh" "$tmp/fresh"; then
        status=1
    fi
else
    "$COLO_FT_ROOT/scripts/prepare-tree.sh" "$tmp/fresh" || status=1
fi
exit $status
