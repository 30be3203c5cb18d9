#!/usr/bin/env bash
# Builds what the container image holds in /app into DEST, from the source tree this script is
# in: the Dockerfile's build stage runs it, and CI runs it in a clean copy of the tree and starts
# the services from DEST (deploy/test/image.check.ts), so the image's contents are tested
# without a container engine.
#
#   bash scripts/build-image-root.sh DEST
#
# DEST gets the root package.json and lock, every workspace's package.json, the compiled dist/
# of the workspaces tsconfig.build.json builds (no .d.ts, no TypeScript sources), and
# node_modules with production dependencies only. Nothing in it is written at run time.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: bash scripts/build-image-root.sh DEST" >&2
  exit 2
fi
dest=$1
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"

if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
  echo "build-image-root: $dest is not empty; give a new or empty folder" >&2
  exit 2
fi
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# Compiling needs the devDependencies (TypeScript); a tree that has none installs them first.
# Install scripts stay off: no package Volley uses needs one to work (msgpackr's native
# extractor ships prebuilt; esbuild's only checks its binary).
if [ ! -x node_modules/.bin/tsc ]; then
  npm ci --no-audit --no-fund --ignore-scripts
fi
npm run -s build

cp package.json package-lock.json "$dest/"
# Every workspace's manifest, so that npm ci finds the workspaces the lock file names; only the
# built ones get code (services/local, the test kit and the capture server are development tools).
for manifest in packages/*/package.json services/*/package.json; do
  mkdir -p "$dest/$(dirname "$manifest")"
  cp "$manifest" "$dest/$manifest"
done
built=$(node -e '
  const refs = JSON.parse(require("fs").readFileSync("tsconfig.build.json", "utf8")).references;
  for (const r of refs) console.log(require("path").dirname(r.path));
')
for ws in $built; do
  (cd "$ws" && find dist -type f ! -name '*.d.ts' ! -name '.tsbuildinfo' -print0 |
    xargs -0 -I{} install -D -m 0644 {} "$dest/$ws/{}")
done

(cd "$dest" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts)
# npm's own bookkeeping is not needed at run time.
rm -f "$dest/node_modules/.package-lock.json"
echo "build-image-root: $dest ready ($(du -sh "$dest" | cut -f1))"
