#!/usr/bin/env bash
# Sourced by the project's scripts: puts a Node >= 22.19 first on PATH.
# The machines ship Node 20; when the system Node is older, Node 22 comes from the npm
# registry as the package `node`, installed once into the git-ignored .cache/node.
# Usage: source scripts/lib/node.sh   (from the repository root)

STROMBOLI_NODE_VERSION="${STROMBOLI_NODE_VERSION:-22.23.3}"

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    process.exit(maj > 22 || (maj === 22 && min >= 19) ? 0 : 1);
  ' 2>/dev/null
}

ensure_node() {
  local root dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  dir="$root/.cache/node"
  if [ -x "$dir/node_modules/.bin/node" ]; then
    PATH="$dir/node_modules/.bin:$PATH"; export PATH
  fi
  if node_ok; then return 0; fi
  echo "stromboli: system Node $(node --version 2>/dev/null || echo none) is older than 22.19; installing node@$STROMBOLI_NODE_VERSION into .cache/node" >&2
  mkdir -p "$dir"
  (cd "$dir" && [ -f package.json ] || echo '{"private":true}' > "$dir/package.json")
  if ! npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "node@$STROMBOLI_NODE_VERSION" >&2; then
    echo "stromboli: failed to install node@$STROMBOLI_NODE_VERSION from the npm registry" >&2
    return 1
  fi
  PATH="$dir/node_modules/.bin:$PATH"; export PATH
  node_ok || { echo "stromboli: node@$STROMBOLI_NODE_VERSION installed but $(node --version) is still too old" >&2; return 1; }
}

ensure_node
