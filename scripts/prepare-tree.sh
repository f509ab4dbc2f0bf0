#!/usr/bin/env bash
# Create a component's work tree: a git repository holding the pinned
# upstream source as one commit tagged 'upstream', with the component's
# series applied by 'git am'. An existing work tree is left alone (it may
# hold unexported work).
#
# Usage: prepare-tree.sh COMPONENT [DIR]   (default build/COMPONENT)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
load_component "${1:-}"

tree=${2:-$TREE}
if [ -e "$tree/.git" ]; then
    exit 0
fi

src=$("$COLO_FT_ROOT/scripts/fetch-upstream.sh" "$COMPONENT")
note "creating $tree from $src"
mkdir -p "$tree"
tar -C "$src" --exclude=./debian --exclude=./.pc --exclude=./.colo-ft-verified -cf - . |
    tar -C "$tree" --no-same-owner -xf -

export GIT_AUTHOR_NAME=upstream GIT_AUTHOR_EMAIL=upstream@invalid
export GIT_COMMITTER_NAME=colo-ft GIT_COMMITTER_EMAIL=colo-ft@invalid
export GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z'
git -C "$tree" init -q -b master
git -C "$tree" config core.autocrlf false
# Commits made in the tree are the series' patches: author them as such.
git -C "$tree" config user.name "colo-ft developers"
git -C "$tree" config user.email "devel@colo-ft.invalid"
# The build directory lives inside the tree.
printf '/build/\n' >>"$tree/.git/info/exclude"
# Upstream's git submodules become nested repositories, committed as
# gitlinks as upstream has them, so that tools listing the tree's files
# (libvirt's syntax-check) do not see them as the project's own.
for sub in ${SUBMODULES:-}; do
    git -C "$tree/$sub" init -q -b master
    git -C "$tree/$sub" add -A -f .
    git -C "$tree/$sub" commit -q --no-verify -m "upstream: $sub"
done
git -C "$tree" -c advice.addEmbeddedRepo=false add -A -f .
git -C "$tree" commit -q --no-verify -m "upstream: $DEB_PACKAGE $DEB_VERSION"
git -C "$tree" tag upstream
unset GIT_AUTHOR_DATE GIT_COMMITTER_DATE

"$COLO_FT_ROOT/scripts/apply-series.sh" "$COMPONENT" "$tree"
