#!/usr/bin/env bash
# Export the commits of build/qemu on top of 'upstream' as patches.
# Deterministic: zero commit ids, no signature, fixed abbreviation, stable
# names; patches/series is rewritten to list them in order.
#
# Usage: export-series.sh [OUTDIR]   (default patches/)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$COLO_FT_BUILD/qemu
out=${1:-$COLO_FT_ROOT/patches}
[ -d "$tree/.git" ] || die "no work tree at $tree: run 'make qemu' first"
git -C "$tree" rev-parse -q --verify upstream >/dev/null || die "$tree has no 'upstream' tag"

mkdir -p "$out"
rm -f "$out"/*.patch
git -C "$tree" -c core.abbrev=12 -c diff.noprefix=false -c format.signature= \
    format-patch -q --zero-commit --no-signature --no-numbered \
    --subject-prefix=PATCH -o "$out" upstream..HEAD
{
    echo "# colo-ft: applied in this order on top of upstream (see upstream.conf)"
    (cd "$out" && ls -1 -- *.patch 2>/dev/null || true)
} >"$out/series"
