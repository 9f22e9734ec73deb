#!/bin/bash
# render.yaml's driftline-ui: the approval page and the two services that write the reports it serves (the monitor's
# Evidently pages, the notifier's PDFs), in one instance, because a Render disk belongs to one service. Each is its
# own `driftline serve` process, as elsewhere. When any one of them exits the instance exits, so Render restarts all
# three (a page without its writers would show stale evidence); SIGTERM from Render reaches every one.
set -u
pids=()
for service in monitor notifier ui; do
  driftline serve "$service" &
  pids+=($!)
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' TERM INT
wait -n
status=$?
echo "ui_with_writers: a service exited (status $status); stopping the others so Render restarts the instance" >&2
kill -TERM "${pids[@]}" 2>/dev/null
wait
exit "$((status == 0 ? 1 : status))"
