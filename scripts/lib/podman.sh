#!/usr/bin/env bash
# Sourced by the project's scripts: makes sure podman (with runc) is installed and usable.
# Installs podman, runc and busybox-static from Debian when missing and running as root.
# Exports CONTAINERS_CONF=config/containers.conf unless the caller already set one.

ensure_podman() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    CONTAINERS_CONF="$root/config/containers.conf"; export CONTAINERS_CONF
  fi
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "stromboli: ${missing[*]} missing and not running as root; install them: apt-get install -y ${missing[*]}" >&2
      return 1
    fi
    echo "stromboli: installing ${missing[*]} from Debian" >&2
    local log
    log="$(mktemp)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
      tail -20 "$log" >&2
      echo "stromboli: apt-get install ${missing[*]} failed" >&2
      rm -f "$log"
      return 1
    fi
    rm -f "$log"
  fi
  if ! podman info >/dev/null 2>&1; then
    echo "stromboli: podman is installed but 'podman info' fails (CONTAINERS_CONF=$CONTAINERS_CONF):" >&2
    podman info 2>&1 | tail -5 >&2
    return 1
  fi
}

ensure_podman
