#!/usr/bin/env bash
# Installs the project's pinned local tools (moto server, cfn-lint, cargo-lambda with zig,
# aws-sam-cli) into ./.venv. Re-runs pip only when infra/requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.requirements.sha256"
want=$(sha256sum infra/requirements.txt | cut -d' ' -f1)
# System packages are not installed here (root, apt); say what a test will miss.
command -v chromium >/dev/null || [ -n "${CHROMIUM:-}" ] ||
  echo "bootstrap: note: the browser CORS test needs headless Chromium: apt-get install -y chromium" >&2
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: installing pinned tools into $venv (one time)"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements.txt
echo "$want" > "$stamp"
