#!/usr/bin/env bash
# Installs everything the local stack and the test suite need, idempotently: the project's
# virtualenv (.venv) from requirements-dev.txt. Re-running it is cheap: each step is skipped
# when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
STAMP=.venv/.requirements.sha256

need_python_deps() {
  [ -x .venv/bin/python ] || return 0
  [ -f "$STAMP" ] || return 0
  [ "$(cat requirements.txt requirements-dev.txt | sha256sum)" != "$(cat "$STAMP")" ]
}

if need_python_deps; then
  echo "bootstrap: installing Python dependencies into .venv"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
  cat requirements.txt requirements-dev.txt | sha256sum > "$STAMP"
fi

for tool in java; do
  command -v "$tool" >/dev/null || { echo "bootstrap: $tool is required (the Google emulators run on Java 17)" >&2; exit 1; }
done
for jar in /usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar \
           /usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib; do
  [ -e "$jar" ] || { echo "bootstrap: missing $jar (install google-cloud-cli-firestore-emulator and -pubsub-emulator)" >&2; exit 1; }
done

# Cloud Tasks emulator: its own virtualenv, since it needs protobuf<5 (the project uses protobuf 6+).
TASKS_STAMP=.venv-tasks/.installed-0.6.2
if [ ! -f "$TASKS_STAMP" ]; then
  echo "bootstrap: installing gcloud-tasks-emulator into .venv-tasks"
  rm -rf .venv-tasks
  "$PYTHON" -m venv .venv-tasks
  .venv-tasks/bin/python -m pip install --quiet --upgrade pip
  .venv-tasks/bin/python -m pip install --quiet "gcloud-tasks-emulator==0.6.2" "protobuf<5"
  touch "$TASKS_STAMP"
fi

# firebase-tools for the Auth emulator, pinned by infra/local/firebase/package-lock.json.
command -v npm >/dev/null || { echo "bootstrap: npm is required (Node.js 20+)" >&2; exit 1; }
FIREBASE_DIR=infra/local/firebase
if [ ! -x "$FIREBASE_DIR/node_modules/.bin/firebase" ] || [ "$FIREBASE_DIR/package-lock.json" -nt "$FIREBASE_DIR/node_modules/.package-lock.json" ]; then
  echo "bootstrap: installing firebase-tools (Auth emulator)"
  (cd "$FIREBASE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi

# The dashboard: npm packages of web/, Debian chromium and Playwright for the end-to-end tests.
scripts/bootstrap-web.sh
