#!/usr/bin/env bash
# Sourced by scripts/test.sh (or run on its own): makes sure the Lua 5.1 interpreter that the
# Argo CD health check test runs (controller/test/kube/argocd-health.int.test.ts) is installed.
# Installs Debian's lua5.1 when missing and running as root; exports LUA (its path) unless the
# caller already set one.

ensure_lua() {
  if [ -n "${LUA:-}" ]; then
    if [ ! -x "$LUA" ]; then
      echo "stromboli: LUA is set to '$LUA', which is not an executable file" >&2
      return 1
    fi
    return 0
  fi
  if ! command -v lua5.1 >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "stromboli: lua5.1 missing and not running as root; install it: apt-get install -y lua5.1" >&2
      return 1
    fi
    echo "stromboli: installing lua5.1 from Debian" >&2
    local log
    log="$(mktemp)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lua5.1; } >"$log" 2>&1; then
      tail -20 "$log" >&2
      echo "stromboli: apt-get install lua5.1 failed" >&2
      rm -f "$log"
      return 1
    fi
    rm -f "$log"
  fi
  LUA="$(command -v lua5.1)"; export LUA
  "$LUA" -v >/dev/null 2>&1 || { echo "stromboli: $LUA -v fails" >&2; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_lua
  "$LUA" -v
else
  ensure_lua
fi
