#!/usr/bin/env bash
# Sourced by the project's scripts: `npm ci` when node_modules does not match package-lock.json.
# A stamp under .cache/ (the lock file's hash) lets later runs skip the install.
ensure_deps() {
  local root stamp want
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  stamp="$root/.cache/npm-ci.stamp"
  want="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)-$(node --version)"
  if [ -d "$root/node_modules" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "stromboli: installing npm packages (npm ci)" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2) || return 1
  mkdir -p "$root/.cache"
  echo "$want" > "$stamp"
}
ensure_deps
