#!/usr/bin/env bash
# Check that each component's series is the product of its work tree and
# applies cleanly:
#  - the work tree has no uncommitted changes to tracked files;
#  - exporting the work tree gives exactly the series directory;
#  - the series applies to upstream and gives the work tree's HEAD.
# A component with neither a work tree nor a series is skipped.
#
# Usage: series-check.sh [COMPONENT...]   (default all)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

series_tree_matches() {
    local idx=$tmp/$COMPONENT.index patches=() p
    while read -r p; do
        case "$p" in ''|'#'*) continue ;; esac
        patches+=("$PATCH_DIR/$p")
    done <"$SERIES"
    export GIT_INDEX_FILE=$idx
    git -C "$TREE" read-tree upstream &&
        { [ ${#patches[@]} -eq 0 ] || git -C "$TREE" apply --cached "${patches[@]}"; } &&
        [ "$(git -C "$TREE" write-tree)" = "$(git -C "$TREE" rev-parse 'HEAD^{tree}')" ]
    local rc=$?
    unset GIT_INDEX_FILE
    return $rc
}

check_component() {
    local status=0 dirty rel fresh=$tmp/$1-fresh
    load_component "$1"
    rel=${PATCH_DIR#"$COLO_FT_ROOT"/}
    if [ ! -d "$TREE/.git" ]; then
        [ -f "$SERIES" ] || return 0
        "$COLO_FT_ROOT/scripts/prepare-tree.sh" "$COMPONENT" "$fresh" || status=1
        rm -rf "$fresh"
        return $status
    fi
    dirty=$(git -C "$TREE" status --porcelain --untracked-files=no)
    if [ -n "$dirty" ]; then
        echo "build/$COMPONENT has uncommitted changes:"
        echo "$dirty" | sed 's/^/  /'
        status=1
    fi
    "$COLO_FT_ROOT/scripts/export-series.sh" "$COMPONENT" "$tmp/$COMPONENT-exported"
    # only the series' own files: patches/ also holds other series' folders
    mkdir -p "$tmp/$COMPONENT-committed"
    find "$PATCH_DIR" -maxdepth 1 -type f -exec cp {} "$tmp/$COMPONENT-committed/" \;
    if ! diff -r -q "$tmp/$COMPONENT-exported" "$tmp/$COMPONENT-committed" >"$tmp/diff"; then
        echo "build/$COMPONENT and $rel/ differ (run 'make export'):"
        sed -e "s|$tmp/$COMPONENT-exported|build/$COMPONENT|g" \
            -e "s|$tmp/$COMPONENT-committed|$rel|g" -e 's/^/  /' "$tmp/diff"
        status=1
    fi
    # applied to upstream in a scratch index (no checkout: quick), the
    # series must give exactly the work tree's HEAD
    if ! series_tree_matches; then
        echo "$rel/series does not apply to upstream, or does not give build/$COMPONENT's HEAD"
        status=1
    fi
    return $status
}

status=0
for component in ${*:-$COLO_FT_COMPONENTS}; do
    check_component "$component" || status=1
done
exit $status
