#!/usr/bin/env bash
# The production topology (docker-compose.yml), started and exercised for real on this machine.
set -euo pipefail

usage() {
  cat <<'HELP'
Usage: bash scripts/topology.sh [--work DIR] [--rebuild] COMMAND...

Runs docker-compose.yml for real on one Debian machine with no container registry: starts Debian's dockerd with
its own data root, socket and pidfile under the work folder, builds every image locally (a debootstrap base,
stand-ins for the public images, infra/Dockerfile), starts the stack, and smoke-tests it from outside.

Commands (several may follow each other: `up test down`):
  up       start dockerd, build the images, start the stack, wait until every container is healthy
  test     the smoke test: /predict through the published gateway, a request over the bus, both traced and
           found in the trace viewer's API (the gateway's span and a consumer's across the bus; the worker's),
           a drift through `driftline simulate` raising an alert, an approval decided through the page's HTTP API
           (sign in, CSRF token, POST decide), the action completed, `driftline audit verify` clean; then the
           NATS container that leads the REQUESTS stream is stopped under load, and the published, acknowledged
           and lost messages are counted (lost must be 0)
  down     remove the stack and its volumes, stop dockerd by its pid, remove its bridges and firewall chains
  images   start dockerd and build the images only
  status   dockerd and the containers
  logs     the last lines of every container's log
  compose ARGS...   docker-compose on this stack (e.g. `compose exec prometheus wget -qO- localhost:9090/-/ready`)

Options:
  --work DIR   work folder (default $DRIFTLINE_TOPOLOGY_DIR or /var/tmp/driftline-topology): the engine's data,
               generated secrets (mode 600), logs and timings; kept between runs so warm builds reuse the cache
  --rebuild    build the base image again even when it is cached
  -h, --help   this text

Every step prints its time; `test` ends with the leader-stop tallies. Needs root (dockerd) and Debian bookworm;
installs docker.io, docker-compose and debootstrap from Debian when missing. Only the gateway and the approval
page are published, on free loopback ports written to WORK/env. Exit status is non-zero on the first failure.
HELP
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${DRIFTLINE_TOPOLOGY_DIR:-/var/tmp/driftline-topology}
REBUILD=0
APP_IMAGE=driftline:latest
PROJECT=driftline

say() { printf '[topology %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[topology] error: %s\n' "$*" >&2; exit 1; }

timed() {  # timed LABEL COMMAND...: run, print and record how long it took
  local label=$1 start end; shift
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  awk -v l="$label" -v s="$start" -v e="$end" 'BEGIN {printf "%-58s %8.1f s\n", l, e - s}' | tee -a "$WORK/timings.txt"
}

commands=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --work) WORK=$2; shift 2 ;;
    --work=*) WORK=${1#--work=}; shift ;;
    --rebuild) REBUILD=1; shift ;;
    compose) commands+=("compose"); shift; COMPOSE_ARGS=("$@"); break ;;
    up|test|down|images|status|logs) commands+=("$1"); shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[ ${#commands[@]} -gt 0 ] || { usage >&2; exit 2; }
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
# One run at a time per work folder: two test suites on one machine would otherwise share, then stop, one dockerd.
exec 9> "$WORK/lock"
flock -w 3600 9 || die "another scripts/topology.sh holds $WORK/lock"

# shellcheck source=scripts/topology/engine.sh
. "$ROOT/scripts/topology/engine.sh"
# shellcheck source=scripts/topology/images.sh
. "$ROOT/scripts/topology/images.sh"
# shellcheck source=scripts/topology/stack.sh
. "$ROOT/scripts/topology/stack.sh"
# shellcheck source=scripts/topology/smoke.sh
. "$ROOT/scripts/topology/smoke.sh"

for command in "${commands[@]}"; do
  case "$command" in
    up) : > "$WORK/timings.txt"; timed "up: total" stack_up ;;
    test) timed "test: total" smoke_test ;;
    down) timed "down: total" stack_down ;;
    images) engine_start; build_images ;;
    status) stack_status ;;
    logs) stack_logs ;;
    compose) compose "${COMPOSE_ARGS[@]}" ;;
  esac
done
