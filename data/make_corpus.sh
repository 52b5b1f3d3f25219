#!/usr/bin/env bash
# Regenerates data/corpus.txt from this repository's own text: the Markdown docs (README.md, docs/*.md)
# and the Rust sources under ir/, passes/, runtime/, frontends/, src/ and tests/, as committed at REV
# (default HEAD), so the output depends only on the commit, not on uncommitted work. Files are taken in
# byte-wise sorted path order, each preceded by a `// file: PATH` line. data/ itself is never included.
#
# usage: data/make_corpus.sh [REV] [OUTPUT]    (defaults: HEAD, data/corpus.txt)
set -euo pipefail
cd "$(dirname "$0")/.."

rev="${1:-HEAD}"
out="${2:-data/corpus.txt}"
max_bytes=1000000

git rev-parse --verify --quiet "$rev^{commit}" >/dev/null || { echo "make_corpus.sh: unknown revision '$rev'" >&2; exit 1; }

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

git ls-tree -r --name-only "$rev" -- README.md docs ir passes runtime frontends src tests \
    | grep -E '^(README\.md|docs/[^/]*\.md|(ir|passes|runtime|frontends|src|tests)/.*\.rs)$' \
    | grep -v '^data/' \
    | LC_ALL=C sort \
    | while IFS= read -r path; do
        printf '// file: %s\n' "$path"
        git show "$rev:$path"
        # Keep the next header on a line of its own even if a file lacks a final newline.
        [ -z "$(git show "$rev:$path" | tail -c 1)" ] || printf '\n'
    done >"$tmp"

size=$(wc -c <"$tmp")
if [ "$size" -gt "$max_bytes" ]; then
    echo "make_corpus.sh: corpus would be $size bytes, over the $max_bytes-byte limit" >&2
    exit 1
fi
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out: $size bytes from $(git rev-parse --short "$rev")"
