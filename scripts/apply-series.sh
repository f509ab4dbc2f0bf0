#!/usr/bin/env bash
# Apply a component's series on top of the current HEAD of a work tree.
# Usage: apply-series.sh COMPONENT DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"
load_component "${1:-}"

tree=${2:?usage: apply-series.sh COMPONENT DIR}
rel=${PATCH_DIR#"$COLO_FT_ROOT"/}
[ -f "$SERIES" ] || exit 0
while read -r patch; do
    case "$patch" in ''|'#'*) continue ;; esac
    [ -f "$PATCH_DIR/$patch" ] || die "$rel/series names $patch, which does not exist"
    git -C "$tree" -c user.name=colo-ft -c user.email=colo-ft@invalid \
        am -q --keep-cr --committer-date-is-author-date "$PATCH_DIR/$patch" >/dev/null 2>&1 || {
        git -C "$tree" am --abort >/dev/null 2>&1 || true
        die "$rel/$patch does not apply"
    }
done <"$SERIES"
