#!/usr/bin/env bash
# Installs the official Kubernetes Python client into the project's own virtualenv
# (.build-python/, git-ignored), leaving the system's Python packages alone. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build-python
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import kubernetes" 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check kubernetes
fi
