# shellcheck shell=bash
# Sourced by scripts/topology.sh: every image docker-compose.yml runs, built on this machine.
#
# No container registry is reachable, so: a Debian bookworm base from Debian's archive (debootstrap minbase, then
# `docker import`), one stand-in per public image under the tag the compose file and infra/Dockerfile name
# (infra/standins/images.txt), then infra/Dockerfile itself. Builds use the host's network (the engine has no
# NAT), so apt reaches Debian's archive and pip reaches PyPI as this machine does; the base trusts this machine's
# local certificate authorities (/usr/local/share/ca-certificates), copied in at build time and never committed.

BASE_TAG=driftline-base:bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

build_base() {
  if image_exists "$BASE_TAG" && [ "$REBUILD" = 0 ]; then
    say "base $BASE_TAG: cached"
    return 0
  fi
  local rootfs="$WORK/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$DEBIAN_MIRROR" \
    > "$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb ${DEBIAN_MIRROR%/debian}/debian-security bookworm-security main
SOURCES
  # Only what the Debian archive and PyPI need to be trusted here; nothing of this lands in the repository.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  fi
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/90minimal"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" --numeric-owner -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BASE_TAG" >/dev/null
  rm -rf "$rootfs"
}

build_log() { echo "$WORK/build-$(echo "$1" | tr '/:' '__').log"; }

build_one() {  # build_one TAG CONTEXT: a stand-in, from its folder
  local log
  log=$(build_log "$1")
  "$DOCKER" build --network host -t "$1" "$2" > "$log" 2>&1 || { tail -30 "$log" >&2; die "building $1 failed (log: $log)"; }
}

repo_files() {  # what git would commit: tracked and new files, never .venv, .driftline or other ignored ones
  git -C "$ROOT" ls-files --cached --others --exclude-standard | while read -r f; do [ -e "$ROOT/$f" ] && echo "$f"; done
}

build_app() {  # infra/Dockerfile from the repository's files (Debian's classic builder reads no Dockerfile.dockerignore)
  local log
  log=$(build_log "$APP_IMAGE")
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    repo_files | tar -C "$ROOT" -c -T - | "$DOCKER" build --network host -t "$APP_IMAGE" -f infra/Dockerfile - \
      > "$log" 2>&1 || { tail -30 "$log" >&2; die "building $APP_IMAGE failed (log: $log)"; }
  else
    "$DOCKER" build --network host -t "$APP_IMAGE" -f "$ROOT/infra/Dockerfile" "$ROOT" > "$log" 2>&1 \
      || { tail -30 "$log" >&2; die "building $APP_IMAGE failed (log: $log)"; }
  fi
}

build_images() {
  timed "image $BASE_TAG (debootstrap + import)" build_base
  local tag folder
  while read -r tag folder; do
    case "$tag" in ''|'#'*) continue ;; esac
    timed "image $tag (stand-in)" build_one "$tag" "$ROOT/infra/standins/$folder"
  done < "$ROOT/infra/standins/images.txt"
  timed "image $APP_IMAGE (infra/Dockerfile)" build_app
  "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | sort | sed 's/^/  /'
}
