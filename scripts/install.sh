#!/usr/bin/env bash
# Installs Driftline into ./.venv: the system libraries WeasyPrint needs (Debian, when root), then the package.
# Usage: bash scripts/install.sh [--test]   (--test also installs what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

debs=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
if [ "$want_test" = 1 ]; then
  # A real browser for the approval page tests, promtool/Alertmanager for the monitoring config, pdftotext;
  # iproute2 brings up loopback in the network namespace of the offline Dask training test (unshare: util-linux);
  # Debian's Docker engine, docker-compose 1.29 and debootstrap for the topology (scripts/topology.sh), shellcheck.
  debs+=(chromium prometheus prometheus-alertmanager poppler-utils openssl docker.io docker-compose debootstrap iproute2
         shellcheck)
fi
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "install: Debian packages ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install: please install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    # Debian splits venv support out of the interpreter package.
    rm -rf .venv
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$python" -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "$want_test" = 1 ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
echo "install: done (.venv/bin/driftline)"
