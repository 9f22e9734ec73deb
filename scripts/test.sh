#!/usr/bin/env bash
# Installs everything the tests need, then runs lint and the whole test suite (unit, integration, e2e).
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
