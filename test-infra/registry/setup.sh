#!/usr/bin/env bash
# The container registry of the tests (docs/testing.md): the CNCF distribution registry, built
# once from its Go module into a version-keyed, git-ignored cache and reused afterwards:
#   .cache/kube/bin/registry-v<VERSION>/registry
# (next to the Kubernetes test bed's binaries; the Go caches are the test bed's, .cache/kube/go).
# No registry is reachable from these machines, so api-server/test/registry.int.test.ts starts
# this one on loopback and pushes the locally built fake-claude image into it.
#
# Knobs: STROMBOLI_REGISTRY_VERSION (default below), STROMBOLI_KUBE_CACHE (default
# <repo>/.cache/kube), GO (default: go on PATH, else /usr/local/go/bin/go). STROMBOLI_REGISTRY
# names a registry binary to use instead: nothing is built.
#
# Idempotent, safe to run concurrently (flock), instant when cached (the build takes about 3
# minutes on a 2-core machine). Exit 0 on success; on failure it says what failed and shows the
# end of the build log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="${STROMBOLI_REGISTRY_VERSION:-3.1.2}"
CACHE="${STROMBOLI_KUBE_CACHE:-$ROOT/.cache/kube}"
OUT="$CACHE/bin/registry-v$VERSION"
LOG="$CACHE/logs/registry-v$VERSION.log"
MODULE="github.com/distribution/distribution/v3"

say() { printf 'registry-setup: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# works BINARY: whether it runs and is the wanted version.
works() { "$1" --version 2>/dev/null | grep -q " v$VERSION"; }

if [ -n "${STROMBOLI_REGISTRY:-}" ]; then
  [ -x "$STROMBOLI_REGISTRY" ] || fail "STROMBOLI_REGISTRY=$STROMBOLI_REGISTRY is not an executable"
  say "using $STROMBOLI_REGISTRY (STROMBOLI_REGISTRY)"
  exit 0
fi
if [ -x "$OUT/registry" ] && works "$OUT/registry"; then exit 0; fi

mkdir -p "$CACHE/logs" "$CACHE/bin"
exec 9>"$CACHE/.registry.lock"
flock 9 || fail "could not lock $CACHE/.registry.lock"
if [ -x "$OUT/registry" ] && works "$OUT/registry"; then exit 0; fi

# An earlier `go install` into the test bed's GOPATH left the binary in go/bin: reuse it.
if [ -x "$CACHE/go/bin/registry" ] && works "$CACHE/go/bin/registry"; then
  mkdir -p "$OUT"; cp -f "$CACHE/go/bin/registry" "$OUT/registry.tmp"; mv -f "$OUT/registry.tmp" "$OUT/registry"
  say "registry v$VERSION taken from $CACHE/go/bin"
  exit 0
fi

GO_BIN=""
for candidate in "${GO:-}" "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then GO_BIN="$candidate"; break; fi
done
[ -n "$GO_BIN" ] || fail "no Go toolchain found (set GO=/path/to/go); the registry is built from the Go module $MODULE"

export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go/build-cache"
export GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0
tmp="$OUT.tmp"
rm -rf "$tmp"; mkdir -p "$tmp"
say "building the registry ($MODULE/cmd/registry@v$VERSION) with $GO_BIN; log: $LOG"
started=$SECONDS
if ! GOBIN="$tmp" nice -n 10 "$GO_BIN" install -trimpath -ldflags "-s -w" "$MODULE/cmd/registry@v$VERSION" >"$LOG" 2>&1; then
  tail -n 30 "$LOG" | sed 's/^/registry-setup: | /' >&2
  rm -rf "$tmp"
  fail "go install $MODULE/cmd/registry@v$VERSION (is that version served by the Go module proxy?)"
fi
mkdir -p "$OUT"; mv -f "$tmp/registry" "$OUT/registry"; rm -rf "$tmp"
works "$OUT/registry" || fail "$OUT/registry does not report v$VERSION: $("$OUT/registry" --version 2>&1 | head -1)"
say "registry v$VERSION built in $((SECONDS - started)) s"
