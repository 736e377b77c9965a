#!/usr/bin/env bash
# Copies the portal's third-party files (uPlot) from npm into ui/vendor/, pinned by
# ui/vendor/package-lock.json. The copies are committed, so a plain `cargo build` serves a
# working portal without Node.js; run this only to update them (edit the version in
# ui/vendor/package.json, then `npm install --package-lock-only` there, then this script).
# `--check` verifies that the committed copies are exactly what the lockfile gives (CI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vendor="$root/ui/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$vendor/package.json" "$vendor/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
dist="$work/node_modules/uplot/dist"
# The minified file keeps uPlot's header comment (its source and version; the MIT licence
# text is copied beside it as LICENSE.uplot).
for file in uPlot.iife.min.js uPlot.min.css; do
  if [[ ${1:-} == --check ]]; then
    cmp -s "$dist/$file" "$vendor/$file" || { echo "ui/vendor/$file differs from npm's uplot: run scripts/vendor-ui.sh" >&2; exit 1; }
  else
    cp "$dist/$file" "$vendor/$file"
  fi
done
cp "$work/node_modules/uplot/LICENSE" "$work/LICENSE.uplot"
if [[ ${1:-} == --check ]]; then
  cmp -s "$work/LICENSE.uplot" "$vendor/LICENSE.uplot" || { echo "ui/vendor/LICENSE.uplot differs" >&2; exit 1; }
else
  cp "$work/LICENSE.uplot" "$vendor/LICENSE.uplot"
fi
head -n 1 "$vendor/uPlot.iife.min.js" | grep -q '^/\*! https://github.com/leeoniya/uPlot (v' || { echo "uPlot.iife.min.js lost its license header" >&2; exit 1; }
echo "ui/vendor: uplot $(node -p "require('$work/node_modules/uplot/package.json').version") ${1:-copied}"
