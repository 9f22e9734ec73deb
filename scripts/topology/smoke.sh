# shellcheck shell=bash
# Sourced by scripts/topology.sh: the smoke test, from outside the containers.
#
# HTTP goes to the published loopback ports (the gateway, the approval page). The NATS client port is published
# nowhere, so the bus steps and the `driftline` commands run in one-off containers of the Driftline image on the
# stack's network (`compose run --rm --no-deps streams ...`, the same settings every service has, signed in with the
# operator credential: the smoke test requests predictions, reads the streams back and replays the audit trail,
# which no one service's credential may do), never inside a service's container. smoke.py holds the steps that need more than one command; each prints one JSON line.

SMOKE_PY=/smoke/smoke.py

oneoff() {  # a one-off container on the stack's network, with scripts/topology mounted at /smoke
  compose run --rm --no-deps -T -v "$ROOT/scripts/topology:/smoke:ro" streams "$@"
}

api_key() { python3 -c 'import json, os; print(json.loads(os.environ["DRIFTLINE_API_KEYS"])[0])'; }

step_predict() {  # the checks CI's deploy job makes against the deployed URL, here against the published gateway
  DRIFTLINE_SMOKE_API_KEY=$(api_key) python3 "$ROOT/scripts/deploy_smoke.py" --url "$GATEWAY" --image "$APP_IMAGE" \
    --wait 60 --report "$WORK/deploy-smoke.json"
}

step_bus_request() { oneoff python "$SMOKE_PY" bus-request; }

VIEWER=http://phoenix:6006  # the trace viewer, on the stack's network only (not published)

step_traces() {  # a /predict carrying a trace id of ours, then that trace and a bus request's, read from the viewer
  local line trace_id
  line=$(DRIFTLINE_SMOKE_API_KEY=$(api_key) python3 "$ROOT/scripts/topology/smoke.py" predict-traced "$GATEWAY" | tail -1)
  echo "$line"
  trace_id=$(echo "$line" | python3 -c 'import json, sys; print(json.load(sys.stdin)["trace_id"])')
  oneoff python "$SMOKE_PY" traces "$VIEWER" "$trace_id"
}

step_prometheus_targets() {  # each worker replica is a target of its own, and every target is up
  compose exec -T prometheus wget -qO- http://127.0.0.1:9090/api/v1/targets | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
workers = [t["scrapeUrl"] for t in targets if t["labels"]["job"] == "driftline-worker"]
down = [t["scrapeUrl"] for t in targets if t["health"] != "up"]
print(json.dumps({"step": "prometheus-targets", "targets": len(targets), "worker_replicas": workers, "down": down}))
sys.exit(0 if len(workers) == 2 and not down else 1)'
}

step_alertmanager_ready() { compose exec -T alertmanager wget -qO- http://127.0.0.1:9093/-/ready; echo; }

step_user() {  # an approver with a one-time password, as `driftline users add` makes one
  SMOKE_USER="smoke-$(date +%s)"
  SMOKE_PASSWORD=$(oneoff driftline users add "$SMOKE_USER" --role approver | sed -n 's/.*one-time password: //p')
  [ -n "$SMOKE_PASSWORD" ] || die "driftline users add printed no password"
  echo "{\"step\": \"user\", \"name\": \"$SMOKE_USER\", \"role\": \"approver\"}"
}

step_simulate() {  # drift from row 400 on four features; true labels 1 s late
  oneoff driftline simulate --rows 1600 --rate 400 --drift-at 400 \
    --shift 'mean radius=1' --shift 'worst radius=1' --shift 'mean texture=1' --shift 'mean area=1' \
    --label-delay 1 --seed 7
}

step_decide() {
  local line
  line=$(python3 "$ROOT/scripts/topology/smoke.py" decide "$PAGE" "$SMOKE_USER" "$SMOKE_PASSWORD" | tail -1)
  echo "$line"
  INCIDENT=$(echo "$line" | python3 -c 'import json, sys; print(json.load(sys.stdin)["correlation_id"])')
}

step_action_completed() {  # the incident's story, from the audit stream, until the retrain has completed
  local deadline=$(( $(date +%s) + 600 )) story
  while :; do
    story=$(oneoff driftline audit replay --correlation "$INCIDENT" --json)
    if echo "$story" | python3 -c '
import json, sys
chain = [json.loads(line) for line in sys.stdin if line.startswith("{")]
types = [c["type"] for c in chain]
done = [c for c in chain if c["type"] in ("action.completed", "action.failed") and "retrain" in c["what"]]
if done:
    print(json.dumps({"step": "action-completed", "chain": types, "outcome": done[0]["outcome"][:160]}))
    sys.exit(0 if done[0]["type"] == "action.completed" and types[0] == "alert.raised" else 2)
sys.exit(1)'; then
      return 0
    elif [ $? = 2 ]; then
      die "the incident did not end in a completed retrain"
    fi
    [ "$(date +%s)" -ge "$deadline" ] && { echo "$story" >&2; die "no completed retrain after 600 s"; }
    sleep 5
  done
}

step_audit_verify() { oneoff driftline audit verify; }

step_leader_stop() {  # kill the REQUESTS stream's leader under load; count published, acked, lost
  local log="$WORK/leader-stop.log" pid leader container deadline
  oneoff python "$SMOKE_PY" leader-stop "${LEADER_STOP_SECONDS:-30}" "${LEADER_STOP_RATE:-100}" > "$log" 2>&1 &
  pid=$!
  deadline=$(( $(date +%s) + 120 ))
  until leader=$(sed -n 's/^LEADER //p' "$log") && [ -n "$leader" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "the load ended before naming the leader"; }
    [ "$(date +%s)" -ge "$deadline" ] && { kill "$pid"; die "no leader named within 120 s"; }
    sleep 0.2
  done
  container=$(compose ps -q "$leader")
  "$DOCKER" kill "$container" >/dev/null
  say "killed $leader (the REQUESTS stream's leader) while publishing"
  wait "$pid" || { cat "$log" >&2; die "the leader-stop check failed"; }
  grep '^{"step"' "$log" | tail -1  # the tallies (asyncio may log a line after them)
  "$DOCKER" start "$container" >/dev/null
  LEADER_KILLED=$leader
}

step_rejoined() {  # the killed node is back and healthy: the cluster is whole again
  local container deadline=$(( $(date +%s) + 120 ))
  container=$(compose ps -q "$LEADER_KILLED")
  until [ "$(container_state "$container")" = healthy ]; do
    [ "$(date +%s)" -ge "$deadline" ] && die "$LEADER_KILLED did not come back healthy"
    sleep 2
  done
  echo "{\"step\": \"rejoined\", \"node\": \"$LEADER_KILLED\"}"
}

smoke_test() {
  engine_pid >/dev/null || die "the stack is not up: run \`scripts/topology.sh up\` first"
  stack_env
  timed "smoke: /predict through the published gateway" step_predict
  timed "smoke: a prediction request over the bus (TLS)" step_bus_request
  timed "smoke: traces across the bus, found in the viewer" step_traces
  timed "smoke: Prometheus scrapes each worker replica" step_prometheus_targets
  timed "smoke: Alertmanager ready" step_alertmanager_ready
  timed "smoke: an approver (driftline users add)" step_user
  timed "smoke: drift through driftline simulate" step_simulate
  timed "smoke: alert -> approval pending; decided on the page" step_decide
  timed "smoke: the retrain completed (audit replay)" step_action_completed
  timed "smoke: driftline audit verify" step_audit_verify
  timed "smoke: REQUESTS leader killed under load" step_leader_stop
  timed "smoke: the killed node rejoined" step_rejoined
  say "smoke test passed"
}
