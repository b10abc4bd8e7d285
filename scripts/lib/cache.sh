#!/usr/bin/env bash
# Sourced by the project's scripts: the expensive caches (Kubernetes test binaries and their Go
# build cache, the Debian base of the agent image, the agent image's npm installs) live in one
# machine-level folder, STROMBOLI_CACHE (default ~/.cache/stromboli), linked into the repo's
# git-ignored .cache/. A fresh clone on the same machine (CI clones anew each run) reuses them;
# a new machine builds them once.
ensure_shared_cache() {
  local root shared d
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  shared="${STROMBOLI_CACHE:-$HOME/.cache/stromboli}"
  mkdir -p "$root/.cache" || return 1
  for d in kube images agent-build; do
    mkdir -p "$shared/$d" || return 1
    # A real folder already here (a tree that built before this script existed) is left alone.
    if [ ! -e "$root/.cache/$d" ] && [ ! -L "$root/.cache/$d" ]; then
      ln -s "$shared/$d" "$root/.cache/$d" || return 1
    fi
  done
}
ensure_shared_cache
