#!/usr/bin/env bash
# `npm start`: the embedded mode with an example run, on a fresh machine of this kind.
# Installs what it needs (Node 22, npm packages, podman + runc, the fake agent image), seeds a new
# ./runs with examples/hello.yaml, then runs `stromboli serve` (API on http://127.0.0.1:8585).
# Extra arguments go to `stromboli serve`. Stop with Ctrl-C; running containers are adopted next time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cache.sh
source scripts/lib/node.sh
source scripts/lib/deps.sh
source scripts/lib/podman.sh
bash images/fake-claude/build.sh
if [ ! -e runs ]; then
  mkdir -p runs
  cp examples/hello.yaml runs/
  echo "stromboli: created ./runs with examples/hello.yaml; watch it with: node bin/stromboli.js get" >&2
fi
echo "stromboli: serving; in another shell: node bin/stromboli.js get   (or: npm run stromboli -- get)" >&2
exec node bin/stromboli.js serve "$@"
