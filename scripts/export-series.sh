#!/usr/bin/env bash
# Export the commits of a component's work tree on top of 'upstream' as
# patches. Deterministic: zero commit ids, no signature, fixed
# abbreviation, stable names; the series file is rewritten to list them in
# order.
#
# Usage: export-series.sh COMPONENT [OUTDIR]   (default its PATCH_DIR)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
load_component "${1:-}"

tree=$TREE
out=${2:-$PATCH_DIR}
[ -d "$tree/.git" ] || die "no work tree at $tree: run 'make $COMPONENT' first"
git -C "$tree" rev-parse -q --verify upstream >/dev/null || die "$tree has no 'upstream' tag"

mkdir -p "$out"
rm -f "$out"/*.patch
git -C "$tree" -c core.abbrev=12 -c diff.noprefix=false -c format.signature= \
    format-patch -q --zero-commit --no-signature --no-numbered \
    --subject-prefix=PATCH -o "$out" upstream..HEAD
{
    echo "# colo-ft: applied in this order on top of upstream (see components/$COMPONENT.conf)"
    (cd "$out" && ls -1 -- *.patch 2>/dev/null || true)
} >"$out/series"
