# shellcheck shell=bash
# Sourced by scripts/topology.sh: Debian's dockerd, started and stopped by this script alone.
#
# dockerd runs with its own data root, exec root, socket and pidfile under the work folder, so it shares nothing
# with any other engine on the machine. It runs with --iptables=false --ip-forward=false --ip-masq=false
# --bridge=none: published ports are bound to 127.0.0.1 (--ip) and served by docker-proxy, containers of one compose
# network talk over their own bridge, image builds use the host's network (--network host), and the host's
# firewall and forwarding sysctl are left as they were. `engine_stop` stops dockerd by its pid, then removes any
# bridge and any DOCKER* firewall chain that this engine left behind.

ENGINE="$WORK/engine"
export DOCKER_HOST="unix://$ENGINE/docker.sock"
DOCKER=/usr/bin/docker            # Debian's docker.io client (another `docker` on PATH may not match the daemon)
# shellcheck disable=SC2034  # used by stack.sh
COMPOSE=/usr/bin/docker-compose   # Debian's docker-compose 1.29

engine_pid() {
  local pid
  pid=$(cat "$ENGINE/dockerd.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

engine_install() {
  local debs=(docker.io docker-compose debootstrap openssl iproute2) missing=() pkg
  for pkg in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    die "install these Debian packages first (or run as root): ${missing[*]}"
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

engine_start() {
  [ "$(id -u)" = 0 ] || die "dockerd needs root: run this script as root"
  engine_install
  if engine_pid >/dev/null; then
    say "dockerd already running (pid $(engine_pid), $DOCKER_HOST)"
    return 0
  fi
  mkdir -p "$ENGINE"
  ip -o link show type bridge | awk -F': ' '{print $2}' | sort > "$ENGINE/bridges.before"
  iptables -S 2>/dev/null | awk '$1 == "-N" {print $2}' | sort > "$ENGINE/chains.before" || true
  dockerd --data-root "$ENGINE/data" --exec-root "$ENGINE/exec" -H "$DOCKER_HOST" \
    --pidfile "$ENGINE/dockerd.pid" --ip 127.0.0.1 --bridge none \
    --iptables=false --ip-forward=false --ip-masq=false --log-level warn \
    > "$ENGINE/dockerd.log" 2>&1 9>&- &  # 9>&-: the daemon must not inherit (and hold) the script's lock
  for _ in $(seq 1 60); do
    "$DOCKER" version >/dev/null 2>&1 && { say "dockerd up (pid $(engine_pid), $DOCKER_HOST)"; return 0; }
    sleep 0.5
  done
  tail -20 "$ENGINE/dockerd.log" >&2
  die "dockerd did not answer on $DOCKER_HOST within 30 s (log: $ENGINE/dockerd.log)"
}

engine_stop() {
  local pid bridges=() chain
  if pid=$(engine_pid); then
    mapfile -t bridges < <("$DOCKER" network ls -q --filter driver=bridge 2>/dev/null | sed 's/^\(.\{12\}\).*/br-\1/')
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { say "dockerd (pid $pid) ignored SIGTERM for 30 s: SIGKILL"; kill -KILL "$pid"; }
    say "dockerd (pid $pid) stopped"
  else
    say "dockerd is not running"
  fi
  # Mounts dockerd leaves under its exec root (the host's network namespace, bind-mounted as netns/default).
  { grep -o " $ENGINE/[^ ]*" /proc/mounts || true; } | sort -r | while read -r mount; do
    umount "$mount" && say "unmounted $mount"
  done
  # Bridges: the networks this engine had, and any bridge that appeared while it ran.
  if [ -f "$ENGINE/bridges.before" ]; then
    mapfile -t -O "${#bridges[@]}" bridges < <(ip -o link show type bridge | awk -F': ' '{print $2}' | sort \
      | comm -13 "$ENGINE/bridges.before" -)
  fi
  for br in "${bridges[@]}"; do
    ip link show "$br" >/dev/null 2>&1 && ip link delete "$br" && say "removed bridge $br"
  done
  # Firewall: --iptables=false makes none, but a chain that appeared while this engine ran is its own.
  if [ -f "$ENGINE/chains.before" ]; then
    for chain in $(iptables -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^DOCKER/ {print $2}' | sort \
                   | comm -13 "$ENGINE/chains.before" -); do
      { iptables -S | grep -- "-j $chain\$" || true; } | sed 's/^-A/-D/' | while read -r rule; do
        read -ra words <<< "$rule"
        iptables "${words[@]}"
      done
      iptables -F "$chain" && iptables -X "$chain" && say "removed firewall chain $chain"
    done
  fi
  rm -f "$ENGINE/docker.sock" "$ENGINE/dockerd.pid"
}
