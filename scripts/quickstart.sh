#!/usr/bin/env bash
# One command from a fresh clone to a running engine: checks Node, installs redis-server from
# the OS packages when it is missing, installs npm packages, then runs `npm start`.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "volley: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_URL:-}" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "volley: installing redis-server from the OS packages ($SUDO apt-get install redis-server)"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "volley: redis-server is not installed and this is not a Debian/Ubuntu machine." >&2
    echo "        Install Redis 7 with your package manager (e.g. 'brew install redis'," >&2
    echo "        'dnf install redis'), or set REDIS_URL to a running Redis, then run again." >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "volley: installing npm packages (npm ci)"
  # From npm's cache when it holds the locked versions (a second clone installs in seconds);
  # whatever it lacks still comes from the registry, checked against package-lock.json.
  npm ci --prefer-offline --no-audit --no-fund
fi

exec npm start
