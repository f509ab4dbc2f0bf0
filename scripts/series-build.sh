#!/usr/bin/env bash
# Build every patch of the series on its own: a worktree of build/qemu
# (build/bisect) walks from 'upstream' through the series, building
# qemu-system-x86_64, qemu-img and the migration qtest at each step.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$COLO_FT_BUILD/qemu
wt=$COLO_FT_BUILD/bisect
[ -d "$tree/.git" ] || die "no work tree at $tree: run 'make qemu' first"

git -C "$tree" worktree prune
[ -e "$wt/.git" ] || git -C "$tree" worktree add -q --detach "$wt" upstream
for commit in $(git -C "$tree" rev-list --reverse upstream..HEAD); do
    subject=$(git -C "$tree" log -1 --format=%s "$commit")
    git -C "$wt" checkout -q --detach "$commit"
    if "$COLO_FT_ROOT/scripts/build-qemu.sh" "$wt" tests/qtest/migration-test \
            >"$COLO_FT_BUILD/bisect.log" 2>&1; then
        echo "ok $subject"
    else
        echo "not ok $subject (see build/bisect.log)"
        exit 1
    fi
done
