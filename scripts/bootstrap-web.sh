#!/usr/bin/env bash
# What the dashboard and its browser tests need, idempotently and quietly when already done:
#   - Debian's chromium (/usr/bin/chromium), which Playwright drives; browsers are never downloaded
#     (`playwright install` cannot work offline): apt-get update first, then install, as root.
#   - Playwright for Python in .venv (the wheel carries its driver), when requirements do not
#     already bring it.
#   - web/'s npm dependencies, pinned by web/package-lock.json (npm ci), when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "bootstrap-web: installing Debian's chromium"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
  [ -x /usr/bin/chromium ] || { echo "bootstrap-web: chromium did not install" >&2; exit 1; }
fi

PLAYWRIGHT_VERSION=1.65.2
if [ -x .venv/bin/python ] && ! .venv/bin/python -c "import playwright" 2>/dev/null; then
  echo "bootstrap-web: installing playwright $PLAYWRIGHT_VERSION into .venv"
  .venv/bin/python -m pip install --quiet "playwright==$PLAYWRIGHT_VERSION"
fi

command -v npm >/dev/null || { echo "bootstrap-web: npm is required (Node.js 20+)" >&2; exit 1; }
# Same stamp as infra/local/dashboard.py: the hash of the lock file node_modules was installed from.
STAMP=web/node_modules/.switchboard-lock.sha256
LOCK_HASH=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_HASH" ]; then
  echo "bootstrap-web: installing the dashboard's npm dependencies (npm ci)"
  mkdir -p .local/logs
  if ! (cd web && CI=1 NO_UPDATE_NOTIFIER=1 npm ci --no-audit --no-fund --loglevel=error >../.local/logs/web-npm-ci.log 2>&1); then
    tail -n 40 .local/logs/web-npm-ci.log >&2
    echo "bootstrap-web: npm ci failed in web/ (log: .local/logs/web-npm-ci.log)" >&2
    exit 1
  fi
  echo "$LOCK_HASH" > "$STAMP"
fi
