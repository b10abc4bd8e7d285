#!/usr/bin/env bash
# Kubernetes test bed, step 1: obtain kube-apiserver, etcd, kubectl, helm and the kstatus
# checker (docs/testing.md).
#
# Built once from Go modules into a version-keyed, git-ignored cache and reused afterwards:
#   .cache/kube/bin/kubernetes-v<K8S>/{kube-apiserver,kubectl}
#   .cache/kube/bin/etcd-v<ETCD>/etcd
#   .cache/kube/bin/helm-v<HELM>/helm
#   .cache/kube/bin/kstatus-v<CLI_UTILS>/kstatus   test-infra/kstatus (sigs.k8s.io/cli-utils kstatus)
#   .cache/kube/go/                     GOPATH, GOMODCACHE and GOCACHE of these builds
# Writes .cache/kube/tools.env (KEY=absolute-path lines; sourceable by bash, read by
# test-infra/kube/harness.ts) naming the five binaries to use.
#
# Binaries named by the environment win and are never built:
#   KUBEBUILDER_ASSETS  folder holding kube-apiserver and etcd (and kubectl, used if present)
#   KUBECTL, HELM, KSTATUS  paths of kubectl, helm and the kstatus checker
#   STROMBOLI_TEST_KUBECONFIG  an existing disposable cluster: kube-apiserver and etcd are not needed
# Version knobs (defaults below): STROMBOLI_K8S_VERSION, STROMBOLI_ETCD_VERSION, STROMBOLI_HELM_VERSION.
# Other knobs: STROMBOLI_KUBE_CACHE (default <repo>/.cache/kube), GO (default: go on PATH, else /usr/local/go/bin/go).
#
# Idempotent, safe to run concurrently (flock), and well under a second when everything is cached.
# Exit status 0 on success; on failure it prints which step failed and the tail of that step's log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
K8S_VERSION="${STROMBOLI_K8S_VERSION:-1.36.3}"
ETCD_VERSION="${STROMBOLI_ETCD_VERSION:-3.6.8}"   # the etcd that k8s.io/apiserver v0.36.3 pins
HELM_VERSION="${STROMBOLI_HELM_VERSION:-3.22.0}"
CACHE="${STROMBOLI_KUBE_CACHE:-$ROOT/.cache/kube}"
LOGS="$CACHE/logs"
CURRENT_STEP="start"

REPORTED=0
say() { printf 'kube-setup: %s\n' "$*" >&2; }

fail() {
  say "FAILED at step '$CURRENT_STEP': $*"
  REPORTED=1
  exit 1
}

# run_step NAME LOGFILE CMD...: run CMD at low priority with output to LOGFILE, saying every
# minute that it is still running; on failure name the step and show the end of its log.
STEP_PID=""
run_step() {
  local name="$1" log="$2"; shift 2
  CURRENT_STEP="$name"
  local started=$SECONDS next=60 rc=0
  say "  $name ..."
  nice -n 10 "$@" >>"$log" 2>&1 &
  STEP_PID=$!
  while kill -0 "$STEP_PID" 2>/dev/null; do
    sleep 1
    if [ $((SECONDS - started)) -ge $next ]; then
      say "  $name: still running after $((SECONDS - started)) s"
      next=$((next + 60))
    fi
  done
  wait "$STEP_PID" || rc=$?
  STEP_PID=""
  if [ $rc -ne 0 ]; then
    say "FAILED at step '$name' after $((SECONDS - started)) s (full log: $log); last lines:"
    tail -n 40 "$log" | sed 's/^/kube-setup: | /' >&2
    REPORTED=1
    exit 1
  fi
  say "  $name done in $((SECONDS - started)) s"
}

on_exit() {
  local rc=$?
  if [ -n "$STEP_PID" ]; then kill "$STEP_PID" 2>/dev/null || true; fi
  if [ $rc -ne 0 ] && [ "$REPORTED" = 0 ]; then say "FAILED at step '$CURRENT_STEP' (exit $rc)"; fi
}
trap on_exit EXIT

mkdir -p "$CACHE" "$LOGS"
exec 9>"$CACHE/.lock"
CURRENT_STEP="lock $CACHE/.lock"
if ! flock -n 9; then
  say "another setup holds $CACHE/.lock; waiting for it"
  flock 9 || fail "could not lock $CACHE/.lock"
fi

# ---- Go toolchain (only looked for when something must be built) --------------------------
GO_BIN=""
find_go() {
  [ -n "$GO_BIN" ] && return 0
  CURRENT_STEP="find the Go toolchain"
  local candidate
  for candidate in "${GO:-}" "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then GO_BIN="$candidate"; break; fi
  done
  [ -n "$GO_BIN" ] || fail "no Go toolchain found (set GO=/path/to/go); Go >= 1.26 is needed to build the test binaries"
  local v
  v="$("$GO_BIN" env GOVERSION)" || fail "'$GO_BIN env GOVERSION' failed"
  case "$v" in
    go1.2[6-9]*|go1.[3-9][0-9]*) ;;
    *) fail "$GO_BIN is $v; Kubernetes v$K8S_VERSION needs Go >= 1.26" ;;
  esac
  # Everything these builds fetch or compile stays inside the cache; the module cache is made
  # writable so that `rm -rf .cache/kube` works.
  export GOPATH="$CACHE/go"
  export GOMODCACHE="$CACHE/go/pkg/mod"
  export GOCACHE="$CACHE/go/build-cache"
  export GOTOOLCHAIN=local
  export GOFLAGS="-modcacherw -buildvcs=false"
  export CGO_ENABLED=0
  say "using $GO_BIN ($v); Go caches in $CACHE/go"
}

# gomod_path MODULE@VERSION: print the path of that module's go.mod in the module cache; on
# failure print go's answer to stderr.
gomod_path() {
  local out path
  out="$("$GO_BIN" mod download -json "$1" 2>&1)" || true
  path="$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  if [ -n "$path" ] && [ -f "$path" ]; then printf '%s\n' "$path"; else printf '%s\n' "$out" >&2; return 1; fi
}

# ---- kube-apiserver + kubectl from k8s.io/kubernetes --------------------------------------
# k8s.io/kubernetes requires its staging modules at v0.0.0 and maps them to ./staging with
# `replace`, which `go install` refuses. A throw-away wrapper module replaces each of them with
# its published v0.<minor>.<patch> instead; the list is read from the go.mod being built.
build_kubernetes() {
  local out="$1" want_apiserver="$2" want_kubectl="$3"
  local log="$LOGS/kubernetes-v$K8S_VERSION.log"
  local src="$CACHE/src/kubernetes-v$K8S_VERSION"
  local staging_version="v0.${K8S_VERSION#1.}"
  local minor; minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  : >"$log"
  find_go
  local what=""
  if [ "$want_apiserver" = 1 ]; then what+="kube-apiserver "; fi
  if [ "$want_kubectl" = 1 ]; then what+="kubectl"; fi
  say "building Kubernetes v$K8S_VERSION (${what% }) from Go modules; a cold build takes many minutes"
  rm -rf "$src"; mkdir -p "$src"
  cd "$src"
  run_step "kubernetes: create the wrapper module" "$log" "$GO_BIN" mod init stromboli.test/kube-build
  CURRENT_STEP="kubernetes: download k8s.io/kubernetes@v$K8S_VERSION go.mod"
  local upstream
  upstream="$(gomod_path "k8s.io/kubernetes@v$K8S_VERSION" 2>>"$log")" ||
    { tail -n 20 "$log" | sed 's/^/kube-setup: | /' >&2; fail "could not download k8s.io/kubernetes@v$K8S_VERSION (is that version served by the Go module proxy?)"; }
  local edits=() m
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$upstream"); do
    edits+=("-replace=$m=$m@$staging_version")
  done
  [ "${#edits[@]}" -gt 0 ] || fail "found no staging replace lines in $upstream"
  local go_line godebug
  go_line="$(awk '$1=="go"{print $2; exit}' "$upstream")"
  godebug="$(awk '$1=="godebug" && $2 ~ /=/ {print $2; exit}' "$upstream")"
  [ -z "$go_line" ] || edits+=("-go=$go_line")
  [ -z "$godebug" ] || edits+=("-godebug=$godebug")
  run_step "kubernetes: pin ${#edits[@]} staging modules and Go settings" "$log" "$GO_BIN" mod edit "${edits[@]}"
  run_step "kubernetes: resolve k8s.io/kubernetes@v$K8S_VERSION and its dependencies" "$log" \
    "$GO_BIN" get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION"
  local pkgs=()
  if [ "$want_apiserver" = 1 ]; then pkgs+=(k8s.io/kubernetes/cmd/kube-apiserver); fi
  if [ "$want_kubectl" = 1 ]; then pkgs+=(k8s.io/kubernetes/cmd/kubectl); fi
  local ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  local tmp="$out.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  run_step "kubernetes: compile ${pkgs[*]}" "$log" \
    "$GO_BIN" build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}"
  CURRENT_STEP="kubernetes: install into $out"
  mkdir -p "$out"
  if [ "$want_apiserver" = 1 ]; then mv -f "$tmp/kube-apiserver" "$out/kube-apiserver"; fi
  if [ "$want_kubectl" = 1 ]; then mv -f "$tmp/kubectl" "$out/kubectl"; fi
  rm -rf "$tmp"
  cd "$ROOT"
}

# ---- etcd from go.etcd.io/etcd/server/v3 ---------------------------------------------------
# Its go.mod also has `replace` lines; a wrapper module builds its main package as a dependency.
build_etcd() {
  local out="$1"
  local log="$LOGS/etcd-v$ETCD_VERSION.log"
  local src="$CACHE/src/etcd-v$ETCD_VERSION"
  : >"$log"
  find_go
  say "building etcd v$ETCD_VERSION from Go modules"
  rm -rf "$src"; mkdir -p "$src"
  cd "$src"
  run_step "etcd: create the wrapper module" "$log" "$GO_BIN" mod init stromboli.test/etcd-build
  run_step "etcd: resolve go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "$log" "$GO_BIN" get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  local tmp="$out.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  run_step "etcd: compile" "$log" "$GO_BIN" build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  CURRENT_STEP="etcd: install into $out"
  mkdir -p "$out"; mv -f "$tmp/etcd" "$out/etcd"; rm -rf "$tmp"
  cd "$ROOT"
}

# ---- helm from helm.sh/helm/v3 (no replace lines: go install works) ------------------------
build_helm() {
  local out="$1"
  local log="$LOGS/helm-v$HELM_VERSION.log"
  : >"$log"
  find_go
  say "building helm v$HELM_VERSION from Go modules"
  CURRENT_STEP="helm: download helm.sh/helm/v3@v$HELM_VERSION go.mod"
  local upstream kminor
  upstream="$(gomod_path "helm.sh/helm/v3@v$HELM_VERSION" 2>>"$log")" ||
    { tail -n 20 "$log" | sed 's/^/kube-setup: | /' >&2; fail "could not download helm.sh/helm/v3@v$HELM_VERSION (is that version served by the Go module proxy?)"; }
  kminor="$(awk '$1=="k8s.io/client-go"{print $2; exit}' "$upstream" | cut -d. -f2)"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  if [ -n "$kminor" ]; then
    ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kminor"
    ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kminor"
  fi
  local tmp="$out.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  run_step "helm: compile helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" "$log" \
    env GOBIN="$tmp" "$GO_BIN" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  CURRENT_STEP="helm: install into $out"
  mkdir -p "$out"; mv -f "$tmp/helm" "$out/helm"; rm -rf "$tmp"
}

# ---- kstatus from test-infra/kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status) ------------
# A module of our own (its go.mod and go.sum are committed), so the version of cli-utils is the
# one its go.mod requires; only the kstatus package and k8s.io/apimachinery are compiled.
KSTATUS_SRC="$ROOT/test-infra/kstatus"
build_kstatus() {
  local out="$1"
  local log="$LOGS/kstatus-v$CLI_UTILS_VERSION.log"
  : >"$log"
  find_go
  say "building the kstatus checker (sigs.k8s.io/cli-utils v$CLI_UTILS_VERSION) from $KSTATUS_SRC"
  local tmp="$out.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  run_step "kstatus: compile test-infra/kstatus" "$log" \
    "$GO_BIN" -C "$KSTATUS_SRC" build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/kstatus" .
  CURRENT_STEP="kstatus: install into $out"
  mkdir -p "$out"; mv -f "$tmp/kstatus" "$out/kstatus"; rm -rf "$tmp"
}

# ---- resolve each tool: environment, else cache, else build ---------------------------------
# A cached binary counts only with its stamp file, written after a complete build.
cached() { [ -x "$1" ] && [ -f "$1.stamp" ]; }
stamp() { printf '%s\n' "$2" >"$1.stamp"; }
# cached_as PATH TEXT: cached, and its stamp says TEXT (for binaries built from files in this repo).
cached_as() { cached "$1" && [ "$(cat "$1.stamp")" = "$2" ]; }

check_exec() { # check_exec WHAT PATH (from the environment)
  CURRENT_STEP="check $1"
  [ -x "$2" ] || fail "$1 is set to '$2', which is not an executable file"
}

CURRENT_STEP="resolve binaries"
K8S_OUT="$CACHE/bin/kubernetes-v$K8S_VERSION"
ETCD_OUT="$CACHE/bin/etcd-v$ETCD_VERSION"
HELM_OUT="$CACHE/bin/helm-v$HELM_VERSION"
APISERVER_PATH=""; ETCD_PATH=""; KUBECTL_PATH=""; HELM_PATH=""; KSTATUS_PATH=""
need_apiserver=0; need_etcd=0; need_kubectl=0; need_helm=0; need_kstatus=0

if [ -n "${STROMBOLI_TEST_KUBECONFIG:-}" ]; then
  say "STROMBOLI_TEST_KUBECONFIG is set: tests use that cluster; kube-apiserver and etcd are not needed"
elif [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  APISERVER_PATH="$KUBEBUILDER_ASSETS/kube-apiserver"; ETCD_PATH="$KUBEBUILDER_ASSETS/etcd"
  check_exec "KUBEBUILDER_ASSETS/kube-apiserver" "$APISERVER_PATH"
  check_exec "KUBEBUILDER_ASSETS/etcd" "$ETCD_PATH"
  say "kube-apiserver and etcd from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
else
  APISERVER_PATH="$K8S_OUT/kube-apiserver"; cached "$APISERVER_PATH" || need_apiserver=1
  ETCD_PATH="$ETCD_OUT/etcd"; cached "$ETCD_PATH" || need_etcd=1
fi

if [ -n "${KUBECTL:-}" ]; then
  KUBECTL_PATH="$KUBECTL"; check_exec KUBECTL "$KUBECTL_PATH"; say "kubectl from KUBECTL=$KUBECTL"
elif [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kubectl" ]; then
  KUBECTL_PATH="$KUBEBUILDER_ASSETS/kubectl"; say "kubectl from KUBEBUILDER_ASSETS"
else
  KUBECTL_PATH="$K8S_OUT/kubectl"; cached "$KUBECTL_PATH" || need_kubectl=1
fi

if [ -n "${HELM:-}" ]; then
  HELM_PATH="$HELM"; check_exec HELM "$HELM_PATH"; say "helm from HELM=$HELM"
else
  HELM_PATH="$HELM_OUT/helm"; cached "$HELM_PATH" || need_helm=1
fi

if [ -n "${KSTATUS:-}" ]; then
  KSTATUS_PATH="$KSTATUS"; check_exec KSTATUS "$KSTATUS_PATH"; say "kstatus from KSTATUS=$KSTATUS"
else
  CURRENT_STEP="read the cli-utils version from $KSTATUS_SRC/go.mod"
  CLI_UTILS_VERSION="$(awk '$1=="sigs.k8s.io/cli-utils"{sub(/^v/,"",$2); print $2; exit}' "$KSTATUS_SRC/go.mod")"
  [ -n "$CLI_UTILS_VERSION" ] || fail "$KSTATUS_SRC/go.mod requires no sigs.k8s.io/cli-utils"
  # The stamp names the sources too: a changed main.go, go.mod or go.sum is rebuilt (seconds).
  KSTATUS_STAMP="kstatus cli-utils v$CLI_UTILS_VERSION sources $(cat "$KSTATUS_SRC/main.go" "$KSTATUS_SRC/go.mod" "$KSTATUS_SRC/go.sum" | sha256sum | cut -c1-16)"
  KSTATUS_PATH="$CACHE/bin/kstatus-v$CLI_UTILS_VERSION/kstatus"; cached_as "$KSTATUS_PATH" "$KSTATUS_STAMP" || need_kstatus=1
fi

total_started=$SECONDS
if [ $need_apiserver = 1 ] || [ $need_kubectl = 1 ]; then
  build_kubernetes "$K8S_OUT" "$need_apiserver" "$need_kubectl"
  if [ $need_apiserver = 1 ]; then stamp "$APISERVER_PATH" "kubernetes v$K8S_VERSION"; fi
  if [ $need_kubectl = 1 ]; then stamp "$KUBECTL_PATH" "kubernetes v$K8S_VERSION"; fi
fi
if [ $need_etcd = 1 ]; then
  build_etcd "$ETCD_OUT"; stamp "$ETCD_PATH" "etcd v$ETCD_VERSION"
fi
if [ $need_helm = 1 ]; then
  build_helm "$HELM_OUT"; stamp "$HELM_PATH" "helm v$HELM_VERSION"
fi
if [ $need_kstatus = 1 ]; then
  build_kstatus "$(dirname "$KSTATUS_PATH")"; stamp "$KSTATUS_PATH" "$KSTATUS_STAMP"
fi

# ---- smoke-check what was built, then publish tools.env ------------------------------------
if [ $((need_apiserver + need_etcd + need_kubectl + need_helm + need_kstatus)) -gt 0 ]; then
  CURRENT_STEP="check the built binaries"
  first_line() { local out; out="$("$@" 2>&1)" || fail "'$*' failed: $out"; say "  ${out%%$'\n'*}"; }
  if [ $need_apiserver = 1 ]; then first_line "$APISERVER_PATH" --version; fi
  if [ $need_etcd = 1 ]; then first_line "$ETCD_PATH" --version; fi
  if [ $need_kubectl = 1 ]; then first_line "$KUBECTL_PATH" version --client=true; fi
  if [ $need_helm = 1 ]; then first_line "$HELM_PATH" version --short; fi
  if [ $need_kstatus = 1 ]; then
    first_line sh -c 'printf "%s" "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"check\"}}" | "$1"' kstatus "$KSTATUS_PATH"
  fi
  say "built what was missing in $((SECONDS - total_started)) s"
fi

CURRENT_STEP="write $CACHE/tools.env"
{
  echo "# Written by test-infra/kube/setup.sh; read by test-infra/kube/harness.ts. Do not edit."
  echo "KUBE_APISERVER=$APISERVER_PATH"
  echo "ETCD=$ETCD_PATH"
  echo "KUBECTL=$KUBECTL_PATH"
  echo "HELM=$HELM_PATH"
  echo "KSTATUS=$KSTATUS_PATH"
  echo "K8S_VERSION=$K8S_VERSION"
} >"$CACHE/tools.env.tmp"
mv -f "$CACHE/tools.env.tmp" "$CACHE/tools.env"
say "ready: $CACHE/tools.env"
