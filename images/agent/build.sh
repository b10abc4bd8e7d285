#!/usr/bin/env bash
# Builds the Stromboli agent image localhost/stromboli/agent:<claude-code version> and :latest
# without any container registry (images/agent/README.md):
#   base     Debian bookworm minbase made with debootstrap, cached as a tarball and an imported
#            image under .cache/images (a second build skips it);
#   node     Node from the npm package `node` (glibc build), installed into .cache/agent-build;
#   npm      npm from the npm package `npm`, same place;
#   claude   @anthropic-ai/claude-code, installed on the host with npm, same place;
#   build    podman build --network=none of images/agent/Containerfile on a staged context.
# The image carries labels with the pinned versions and a hash of the recipe; when an image with
# that hash exists the build is skipped. Progress goes to stderr, one line per step; on success
# the image reference is printed on stdout.
#
# Usage: images/agent/build.sh [--ca-file FILE] [--bake-ca] [--force] [--help]
#   --ca-file FILE  CA bundle for TLS-intercepting proxies, used by the host-side npm installs.
#                   Default: $STROMBOLI_CA_FILE, else npm's `cafile`, else $NODE_EXTRA_CA_CERTS.
#   --bake-ca       also install that CA into the image's trust store (off by default); the
#                   result is tagged <version>-ca and latest-ca, never the plain tags.
#   --force         rebuild even when an image with the same recipe hash exists.
# Environment: STROMBOLI_CA_FILE, STROMBOLI_DEBIAN_MIRROR (default: the host's apt mirror),
#   STROMBOLI_AGENT_TAG (default: the Claude Code version), STROMBOLI_CLAUDE_CODE_VERSION and
#   STROMBOLI_AGENT_NODE_VERSION (override the pins below for a trial build).
set -euo pipefail

# ---- pinned versions (change here; the recipe hash follows) --------------------------------
# STROMBOLI_CLAUDE_CODE_VERSION / STROMBOLI_AGENT_NODE_VERSION override them for a trial build.
CLAUDE_CODE_VERSION="${STROMBOLI_CLAUDE_CODE_VERSION:-2.1.332}"
NODE_VERSION="${STROMBOLI_AGENT_NODE_VERSION:-22.23.3}"
NPM_VERSION="10.9.9"
DEBIAN_SUITE="bookworm"
DEBOOTSTRAP_VARIANT="minbase"
DEBOOTSTRAP_INCLUDE="ca-certificates,git,bash"

IMAGE_REPO="localhost/stromboli/agent"
LABEL_PREFIX="io.stromboli.agent"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
IMAGES_CACHE="$ROOT/.cache/images"
BUILD_CACHE="$ROOT/.cache/agent-build"
LOG_DIR="$BUILD_CACHE/logs"
NPM_CACHE="$BUILD_CACHE/npm-cache"

ca_file="${STROMBOLI_CA_FILE:-}"
ca_source="STROMBOLI_CA_FILE"
bake_ca=0
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ca-file) [ $# -ge 2 ] || { echo "agent-image: --ca-file needs a file" >&2; exit 2; }
               ca_file="$2"; ca_source="--ca-file"; shift 2 ;;
    --ca-file=*) ca_file="${1#--ca-file=}"; ca_source="--ca-file"; shift ;;
    --bake-ca) bake_ca=1; shift ;;
    --force) force=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "agent-image: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# ---- progress and failure reporting ---------------------------------------------------------
TOTAL_STEPS=7
step_no=0
step_name="setup"
step_log=""
step_started=0
build_started=$(date +%s%N)

say() { echo "agent-image: $*" >&2; }
elapsed() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f s", (b - a) / 1e9 }'; }

begin() { # begin NAME DESCRIPTION
  step_no=$((step_no + 1)); step_name="$1"; step_started=$(date +%s%N)
  step_log="$LOG_DIR/$step_no-$1.log"; : >"$step_log"
  say "[$step_no/$TOTAL_STEPS] $1: $2"
}
sub() { say "[$step_no/$TOTAL_STEPS] $step_name: $* (at $(elapsed "$step_started"))"; }
done_step() { say "[$step_no/$TOTAL_STEPS] $step_name: ${1:-done} ($(elapsed "$step_started"))"; }
# Runs a command with its output in the step's log (niced: the machines are shared).
logged() { nice -n 10 "$@" >>"$step_log" 2>&1; }

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    say "FAILED at step $step_no/$TOTAL_STEPS '$step_name' (exit $rc) after $(elapsed "$build_started")"
    if [ -n "$step_log" ] && [ -s "$step_log" ]; then
      say "last lines of $step_log:"
      tail -n 30 "$step_log" | sed 's/^/  | /' >&2
    fi
  fi
}
trap on_exit EXIT

# ---- setup: Node 22 and podman from the project's own bootstrap ------------------------------
mkdir -p "$IMAGES_CACHE" "$BUILD_CACHE" "$LOG_DIR"
# shellcheck source=../../scripts/lib/node.sh
source "$ROOT/scripts/lib/node.sh"
# shellcheck source=../../scripts/lib/podman.sh
source "$ROOT/scripts/lib/podman.sh"

# One build at a time on this machine (tests and people may start it concurrently).
exec 9>"$BUILD_CACHE/.lock"
if ! flock -n 9; then
  say "another build holds $BUILD_CACHE/.lock; waiting"
  flock 9
fi

if [ -z "$ca_file" ]; then
  npm_cafile="$(npm config get cafile 2>/dev/null || true)"
  if [ -n "$npm_cafile" ] && [ "$npm_cafile" != "null" ] && [ "$npm_cafile" != "undefined" ]; then
    ca_file="$npm_cafile"; ca_source="npm config cafile"
  elif [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
    ca_file="$NODE_EXTRA_CA_CERTS"; ca_source="NODE_EXTRA_CA_CERTS"
  fi
fi
if [ -n "$ca_file" ]; then
  [ -r "$ca_file" ] || { say "CA file $ca_file (from $ca_source) is not readable"; exit 2; }
  ca_file="$(cd "$(dirname "$ca_file")" && pwd)/$(basename "$ca_file")"
  say "CA bundle: $ca_file (from $ca_source); baked into the image: $([ $bake_ca = 1 ] && echo yes || echo no)"
elif [ "$bake_ca" = 1 ]; then
  say "--bake-ca needs a CA file (--ca-file FILE or STROMBOLI_CA_FILE)"; exit 2
fi
npm_ca_args=()
[ -n "$ca_file" ] && npm_ca_args=(--cafile "$ca_file")

arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
base_key="$(printf '%s\n' "$DEBIAN_SUITE" "$DEBOOTSTRAP_VARIANT" "$DEBOOTSTRAP_INCLUDE" "$arch" | sha256sum | cut -c1-12)"
BASE_IMAGE="localhost/stromboli/debian-base:$DEBIAN_SUITE-$DEBOOTSTRAP_VARIANT-$base_key"
BASE_TAR="$IMAGES_CACHE/debian-$DEBIAN_SUITE-$DEBOOTSTRAP_VARIANT-$base_key.tar"

ca_hash="none"
if [ "$bake_ca" = 1 ]; then ca_hash="$(sha256sum "$ca_file" | cut -c1-64)"; fi
recipe_hash="$(
  {
    printf 'claude-code=%s node=%s npm=%s base=%s bake-ca=%s ca=%s\n' \
      "$CLAUDE_CODE_VERSION" "$NODE_VERSION" "$NPM_VERSION" "$base_key" "$bake_ca" "$ca_hash"
    cat "$SCRIPT_DIR/build.sh" "$SCRIPT_DIR/Containerfile"
  } | sha256sum | cut -c1-64
)"
# A CA-baked image never takes the plain tags: it is <version>-ca and latest-ca.
tag_suffix=""
[ "$bake_ca" = 1 ] && tag_suffix="-ca"
TAG="${STROMBOLI_AGENT_TAG:-$CLAUDE_CODE_VERSION}$tag_suffix"
IMAGE="$IMAGE_REPO:$TAG"
LATEST="$IMAGE_REPO:latest$tag_suffix"
say "pinned: claude-code $CLAUDE_CODE_VERSION, node $NODE_VERSION, npm $NPM_VERSION, debian $DEBIAN_SUITE/$DEBOOTSTRAP_VARIANT; recipe ${recipe_hash:0:12}"

# ---- step 1: is the image already built from this recipe? ------------------------------------
begin check "looking for $IMAGE with recipe ${recipe_hash:0:12}"
existing="$(podman image inspect --format "{{ index .Labels \"$LABEL_PREFIX.recipe-hash\" }}" "$IMAGE" 2>/dev/null || true)"
if [ "$force" = 0 ] && [ "$existing" = "$recipe_hash" ]; then
  podman tag "$IMAGE" "$LATEST"
  done_step "up to date, nothing to build"
  say "ok: $IMAGE (and $LATEST) in $(elapsed "$build_started")"
  echo "$IMAGE"
  exit 0
fi
if [ "$force" = 1 ]; then done_step "forced rebuild"
else done_step "needs a build (existing image's recipe: $([ -n "$existing" ] && echo "${existing:0:12}" || echo none))"; fi

# ---- step 2: Debian base --------------------------------------------------------------------
# Removes a debootstrap target safely: never follows mounts debootstrap may have left behind.
remove_rootfs() {
  local dir="$1" mnt
  [ -e "$dir" ] || return 0
  while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done < <(awk -v d="$dir" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
  if awk -v d="$dir" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    say "refusing to delete $dir: something is still mounted below it"; return 1
  fi
  rm -rf --one-file-system "$dir"
}

host_debian_mirror() {
  local f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")"
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  if [ -r /etc/apt/sources.list ]; then
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/ && $i !~ /security/) { print $i; exit } }' /etc/apt/sources.list
  fi
}

begin base "Debian $DEBIAN_SUITE $DEBOOTSTRAP_VARIANT ($BASE_IMAGE)"
if podman image exists "$BASE_IMAGE"; then
  done_step "cached image"
else
  if [ ! -s "$BASE_TAR" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
      [ "$(id -u)" = 0 ] || { say "debootstrap is missing; install it (apt-get install -y debootstrap) or run as root"; exit 1; }
      sub "installing debootstrap from Debian"
      logged apt-get update -qq
      DEBIAN_FRONTEND=noninteractive logged apt-get install -y -qq debootstrap
    fi
    [ "$(id -u)" = 0 ] || { say "debootstrap needs root"; exit 1; }
    mirror="${STROMBOLI_DEBIAN_MIRROR:-$(host_debian_mirror)}"
    rootfs="$IMAGES_CACHE/rootfs-$base_key.tmp"
    remove_rootfs "$rootfs"
    sub "debootstrap --variant=$DEBOOTSTRAP_VARIANT --include=$DEBOOTSTRAP_INCLUDE $DEBIAN_SUITE (mirror: ${mirror:-debootstrap default})"
    # debootstrap downloads with wget; an HTTPS mirror behind the proxy needs the CA bundle too.
    wget_env=()
    if [ -n "$ca_file" ]; then
      printf 'ca_certificate = %s\n' "$ca_file" >"$BUILD_CACHE/wgetrc"
      wget_env=("WGETRC=$BUILD_CACHE/wgetrc")
    fi
    if ! logged env "${wget_env[@]}" debootstrap --variant="$DEBOOTSTRAP_VARIANT" --include="$DEBOOTSTRAP_INCLUDE" --arch="$arch" \
        "$DEBIAN_SUITE" "$rootfs" ${mirror:+"$mirror"}; then
      remove_rootfs "$rootfs" || true
      exit 1
    fi
    # Package caches and lists are not needed in the image (the agent cannot apt-get as user).
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
    sub "writing $BASE_TAR"
    logged tar --numeric-owner -C "$rootfs" -cf "$BASE_TAR.tmp" .
    mv "$BASE_TAR.tmp" "$BASE_TAR"
    remove_rootfs "$rootfs"
  else
    sub "using cached tarball $BASE_TAR"
  fi
  sub "podman import"
  logged podman import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    --message "debootstrap $DEBOOTSTRAP_VARIANT $DEBIAN_SUITE +$DEBOOTSTRAP_INCLUDE" "$BASE_TAR" "$BASE_IMAGE"
  done_step "imported"
fi

# ---- steps 3-5: host-side npm installs into .cache/agent-build --------------------------------
# npm_install DIR SPEC: a private prefix per pinned package, reused when already complete.
npm_install() {
  local dir="$1" spec="$2"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo '{"private":true}' >"$dir/package.json"
  (cd "$dir" && logged npm install --cache "$NPM_CACHE" "${npm_ca_args[@]}" --no-audit --no-fund \
    --no-update-notifier --loglevel=warn "$spec")
}
installed_version() { # DIR PACKAGE
  node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch {}' "$1/node_modules/$2/package.json"
}
is_elf() { [ "$(head -c4 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "7f454c46" ]; }

NODE_DIR="$BUILD_CACHE/node-$NODE_VERSION"
NODE_BIN="$NODE_DIR/node_modules/node/bin/node"
begin node "node@$NODE_VERSION (npm package, glibc build)"
if [ -x "$NODE_BIN" ] && is_elf "$NODE_BIN" && [ "$("$NODE_BIN" --version 2>/dev/null)" = "v$NODE_VERSION" ]; then
  done_step "cached"
else
  npm_install "$NODE_DIR" "node@$NODE_VERSION"
  is_elf "$NODE_BIN" || { say "node package did not provide an ELF binary at $NODE_BIN"; exit 1; }
  [ "$("$NODE_BIN" --version)" = "v$NODE_VERSION" ] || { say "node binary reports $("$NODE_BIN" --version)"; exit 1; }
  done_step "installed"
fi

NPM_DIR="$BUILD_CACHE/npm-$NPM_VERSION"
begin npm "npm@$NPM_VERSION"
if [ "$(installed_version "$NPM_DIR" npm)" = "$NPM_VERSION" ]; then
  done_step "cached"
else
  npm_install "$NPM_DIR" "npm@$NPM_VERSION"
  [ "$(installed_version "$NPM_DIR" npm)" = "$NPM_VERSION" ] || { say "npm@$NPM_VERSION not found after install"; exit 1; }
  done_step "installed"
fi

CLAUDE_DIR="$BUILD_CACHE/claude-code-$CLAUDE_CODE_VERSION"
CLAUDE_PKG="$CLAUDE_DIR/node_modules/@anthropic-ai/claude-code"
begin claude "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION (native linux binary via its postinstall)"
if [ "$(installed_version "$CLAUDE_DIR" @anthropic-ai/claude-code)" = "$CLAUDE_CODE_VERSION" ] && is_elf "$CLAUDE_PKG/bin/claude.exe"; then
  done_step "cached"
else
  npm_install "$CLAUDE_DIR" "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION"
  is_elf "$CLAUDE_PKG/bin/claude.exe" || {
    say "bin/claude.exe is not the native binary (postinstall skipped, or no linux-$arch package?)"; exit 1; }
  done_step "installed"
fi

# ---- step 6: stage the build context (hard links, no copies) ----------------------------------
CONTEXT="$BUILD_CACHE/context"
begin context "staging $CONTEXT"
link_tree() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT/node"
link_tree "$NODE_BIN" "$CONTEXT/node/node"
link_tree "$NPM_DIR/node_modules/npm" "$CONTEXT/npm"
link_tree "$CLAUDE_PKG" "$CONTEXT/claude-code"
cp "$SCRIPT_DIR/Containerfile" "$CONTEXT/Containerfile"
if [ "$bake_ca" = 1 ]; then
  mkdir -p "$CONTEXT/ca"
  cp "$ca_file" "$CONTEXT/ca/stromboli-extra-ca.crt"
  cat >>"$CONTEXT/Containerfile" <<'EOF'
USER root
COPY ca/stromboli-extra-ca.crt /usr/local/share/ca-certificates/stromboli-extra-ca.crt
RUN update-ca-certificates
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/stromboli-extra-ca.crt
USER user
EOF
fi
# One LABEL instruction (podman turns each --label flag into a step of its own).
{
  printf 'LABEL'
  printf ' "%s"="%s"' \
    org.opencontainers.image.title stromboli-agent \
    org.opencontainers.image.version "$TAG" \
    "$LABEL_PREFIX.claude-code-version" "$CLAUDE_CODE_VERSION" \
    "$LABEL_PREFIX.node-version" "$NODE_VERSION" \
    "$LABEL_PREFIX.npm-version" "$NPM_VERSION" \
    "$LABEL_PREFIX.base" "debian-$DEBIAN_SUITE-$DEBOOTSTRAP_VARIANT-$base_key" \
    "$LABEL_PREFIX.ca-baked" "$([ "$bake_ca" = 1 ] && echo true || echo false)" \
    "$LABEL_PREFIX.recipe-hash" "$recipe_hash"
  printf '\n'
} >>"$CONTEXT/Containerfile"
done_step

# ---- step 7: podman build -------------------------------------------------------------------
begin build "podman build $IMAGE"
previous_id="$(podman image inspect --format '{{ .Id }}' "$IMAGE" 2>/dev/null || true)"
logged podman build --pull=never --network=none --layers \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  -t "$IMAGE" -t "$LATEST" -f "$CONTEXT/Containerfile" "$CONTEXT"
got="$(podman run --rm --network=none --user 1000:1000 "$IMAGE" --version 2>>"$step_log" || true)"
case "$got" in
  "$CLAUDE_CODE_VERSION "*) ;;
  *) say "the built image's 'claude --version' printed '$got', expected $CLAUDE_CODE_VERSION"; exit 1 ;;
esac
# The image this build replaced keeps its layers only if something still uses them.
if [ -n "$previous_id" ] && [ "$(podman image inspect --format '{{ .Id }}' "$IMAGE")" != "$previous_id" ] &&
   [ "$(podman image inspect --format '{{ len .RepoTags }}' "$previous_id" 2>/dev/null || echo 1)" = 0 ]; then
  podman rmi "$previous_id" >>"$step_log" 2>&1 || true
fi
done_step "built; claude --version: $got"
rm -rf "$CONTEXT"

say "ok: $IMAGE (and $LATEST) in $(elapsed "$build_started")"
echo "$IMAGE"
