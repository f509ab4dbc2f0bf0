#!/usr/bin/env bash
# Build every patch of the series on its own: a worktree of build/qemu
# (build/bisect) walks from 'upstream' through the series, building
# qemu-system-x86_64, qemu-img, the migration qtest and the series' own
# tests at each step.
# SERIES_BUILD_FROM=<commit> starts after that commit of build/qemu
# (its own build having been checked before).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$COLO_FT_BUILD/qemu
wt=$COLO_FT_BUILD/bisect
[ -d "$tree/.git" ] || die "no work tree at $tree: run 'make qemu' first"

git -C "$tree" worktree prune
from=${SERIES_BUILD_FROM:-upstream}
[ -e "$wt/.git" ] || git -C "$tree" worktree add -q --detach "$wt" "$from"
for commit in $(git -C "$tree" rev-list --reverse "$from..HEAD"); do
    subject=$(git -C "$tree" log -1 --format=%s "$commit")
    git -C "$wt" checkout -q --detach "$commit"
    # the series' own tests, from the patch that adds them on
    tests=()
    for t in tests/unit/test-colo-compare-engine tests/unit/test-colo-rewriter \
             tests/unit/test-colo-nic-netlink tests/unit/test-colo-channel \
             tests/qtest/colo-nic-test; do
        [ ! -e "$wt/$t.c" ] || tests+=("$t")
    done
    if "$COLO_FT_ROOT/scripts/build-qemu.sh" "$wt" tests/qtest/migration-test "${tests[@]}" \
            >"$COLO_FT_BUILD/bisect.log" 2>&1; then
        echo "ok $subject"
    else
        echo "not ok $subject (see build/bisect.log)"
        exit 1
    fi
done
