#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh machine of this kind. Installs what it needs first
# (Node 22, npm packages, podman + runc, the locally built images, the Kubernetes test bed),
# then type checks, lints, checks import boundaries and CRD drift, and runs every vitest project.
# Expensive things are cached in the git-ignored .cache/ so later runs skip them.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nnpm test: FAILED at step: %s\n' "$*" >&2; exit 1; }

step "shared caches"
source scripts/lib/cache.sh || fail "shared cache folder"

step "Node >= 22.19"
# shellcheck source=lib/node.sh
source scripts/lib/node.sh || fail "Node 22"
node --version

step "npm packages"
source scripts/lib/deps.sh || fail "npm ci"

step "podman"
# shellcheck source=lib/podman.sh
source scripts/lib/podman.sh || fail "podman install/check"
podman --version

step "lua5.1 (the Argo CD health check test)"; source scripts/lib/lua.sh || fail "lua5.1 install/check (scripts/lib/lua.sh)"

step "test images"
bash images/fake-claude/build.sh || fail "fake-claude image build (images/fake-claude/build.sh)"
if [ "${STROMBOLI_SKIP_AGENT_IMAGE:-}" != "1" ]; then
  bash images/agent/build.sh || fail "agent image build (images/agent/build.sh)"
fi

step "Kubernetes test bed (kube-apiserver, etcd, kubectl, helm)"
if [ -f test-infra/kube/setup.sh ]; then
  bash test-infra/kube/setup.sh || fail "Kubernetes test bed (test-infra/kube/setup.sh)"
fi

step "container registry of the tests (CNCF distribution)"
bash test-infra/registry/setup.sh || fail "test registry (test-infra/registry/setup.sh)"

step "type check";          npx tsc -p tsconfig.json || fail "type check"
step "lint";                npx eslint . || fail "lint"
step "import boundaries";   npx depcruise --config .dependency-cruiser.cjs cmd contract controller api-server scripts bench test-infra || fail "import boundaries"
step "CRD drift";           node scripts/gen-crds.ts --check || fail "CRD drift"

step "tests (unit, podman, kube)"
mkdir -p .cache
report="$root/.cache/vitest-report.json"
rm -f "$report"
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
set -e
node scripts/lib/summarize-vitest.mjs "$report" || status=1
exit "$status"
