#!/usr/bin/env bash
# Create build/upstream: unpatched upstream, a worktree of build/qemu at
# its 'upstream' tag, for side-by-side comparisons.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=${1:-$COLO_FT_BUILD/upstream}
[ -e "$tree/.git" ] && exit 0
"$COLO_FT_ROOT/scripts/prepare-tree.sh" qemu
git -C "$COLO_FT_BUILD/qemu" worktree prune
git -C "$COLO_FT_BUILD/qemu" worktree add -q --detach "$tree" upstream
