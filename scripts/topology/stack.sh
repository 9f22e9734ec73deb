# shellcheck shell=bash
# Sourced by scripts/topology.sh: docker-compose.yml's stack on this script's engine.
#
# The compose file runs unchanged; infra/compose/smoke.yml layers only what makes the smoke test quick and
# deterministic (smaller drift windows, a policy that answers any drift with a retrain). Secrets are made once per
# work folder (WORK/env, mode 600) and passed as the environment compose interpolates.

compose() {
  "$COMPOSE" -p "$PROJECT" -f "$ROOT/docker-compose.yml" -f "$ROOT/infra/compose/smoke.yml" "$@"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stack_env() {  # WORK/env: the secrets of this work folder, made once; WORK/ports: the published ports of this run
  if [ ! -f "$WORK/env" ]; then
    (umask 077; cat > "$WORK/env" <<ENV
POSTGRES_PASSWORD=$(openssl rand -hex 16)
DRIFTLINE_UI_SECRET_KEY=$(openssl rand -hex 32)
DRIFTLINE_API_KEYS='["$(openssl rand -hex 16)"]'
DRIFTLINE_ALERTMANAGER_TOKEN=$(openssl rand -hex 24)
DRIFTLINE_WEBHOOK_SECRET=$(openssl rand -hex 24)
ENV
    )
  fi
  [ -f "$WORK/ports" ] || stack_ports
  set -a
  . "$WORK/env"
  . "$WORK/ports"
  set +a
  GATEWAY="http://127.0.0.1:$GATEWAY_PUBLISH_PORT"
  PAGE="http://127.0.0.1:$UI_PUBLISH_PORT"
}

stack_ports() {  # free loopback ports, chosen at each `up` (a port free last time may be another test's now)
  local ui_port
  ui_port=$(free_port)
  printf 'GATEWAY_PUBLISH_PORT=%s\nUI_PUBLISH_PORT=%s\nDRIFTLINE_PUBLIC_UI_URL=http://127.0.0.1:%s\n' \
    "$(free_port)" "$ui_port" "$ui_port" > "$WORK/ports"
}

container_state() {  # container_state NAME -> healthy | starting | unhealthy | exited:<code> | running
  "$DOCKER" inspect --format \
    '{{if .State.Health}}{{.State.Health.Status}}{{else if .State.Running}}running{{else}}exited:{{.State.ExitCode}}{{end}}' \
    "$1" 2>/dev/null || echo missing
}

wait_healthy() {  # every long-running container healthy and every one-shot exited 0, within $1 seconds
  local limit=$1 deadline pending name state
  deadline=$(( $(date +%s) + limit ))
  while :; do
    pending=()
    for name in $(compose ps -q | xargs -r "$DOCKER" inspect --format '{{.Name}}' | sed 's|^/||'); do
      state=$(container_state "$name")
      case "$name:$state" in
        *:healthy|*_init_*:exited:0|*_streams_*:exited:0|*_train_*:exited:0) ;;
        *:exited:*) compose logs --tail 40 >&2; die "$name is $state" ;;
        *) pending+=("$name:$state") ;;  # unhealthy too: checks go on, and a slow start recovers
      esac
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && { compose logs --tail 40 >&2; die "not healthy after ${limit}s: ${pending[*]}"; }
    sleep 2
  done
}

wait_ready() {  # the gateway answers /ready once a champion is loaded (train's first model)
  local deadline=$(( $(date +%s) + $1 ))
  until python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=3)" "$GATEWAY/ready" \
      >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && { compose logs --tail 40 gateway train >&2; die "gateway not ready"; }
    sleep 2
  done
}

stack_up() {
  timed "engine: dockerd started" engine_start
  build_images
  stack_env
  if [ -z "$(compose ps -q)" ]; then  # a new stack: new ports
    stack_ports
    stack_env
  fi
  timed "compose up -d (init, NATS healthy, then everything)" compose up -d --no-build --remove-orphans
  timed "every container healthy, init, streams and train exited 0" wait_healthy 900
  timed "gateway ready (first model loaded)" wait_ready 300
  compose ps
  "$DOCKER" stats --no-stream --format '{{.MemUsage}}' | awk '{
      v = $1; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
      total += v * (u == "GiB" ? 1024 : u == "KiB" ? 1 / 1024 : 1)
    } END { printf "memory of the running containers: %.0f MiB\n", total }'
  say "gateway $GATEWAY   approval page $PAGE   (secrets: $WORK/env)"
}

stack_down() {
  # A run that died with the engine stopped leaves containers and volumes in its data root: start it to remove them.
  if engine_pid >/dev/null || { [ -d "$ENGINE/data/containers" ] && engine_start; }; then
    stack_env
    compose down -v --remove-orphans --timeout 20 || true
  fi
  engine_stop
}

stack_status() {
  if engine_pid >/dev/null; then
    say "dockerd pid $(engine_pid) on $DOCKER_HOST"
    stack_env
    compose ps
  else
    say "dockerd is not running (work folder $WORK)"
  fi
}

stack_logs() { stack_env; compose logs --no-color --tail 60; }
