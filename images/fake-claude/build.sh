#!/usr/bin/env bash
# Builds localhost/stromboli/fake-claude:latest from images/fake-claude/ without any registry:
# FROM scratch + the host's static busybox + the fake `claude` script.
# Idempotent: skips the build when the image already carries a label with the hash of its inputs
# (claude, Containerfile, this script, busybox). Prints one line on success and one on failure.
# Env: FAKE_CLAUDE_IMAGE (tag), BUSYBOX (path to a static busybox), FAKE_CLAUDE_FORCE=1 (rebuild).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
image="${FAKE_CLAUDE_IMAGE:-localhost/stromboli/fake-claude:latest}"
busybox="${BUSYBOX:-/bin/busybox}"
label=io.stromboli.fake-claude.hash

fail() { echo "fake-claude: build of $image FAILED: $*" >&2; exit 1; }

if [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$root/config/containers.conf" ]; then
  CONTAINERS_CONF="$root/config/containers.conf"; export CONTAINERS_CONF
fi
command -v podman >/dev/null 2>&1 || fail "podman not found (source scripts/lib/podman.sh)"
[ -x "$busybox" ] || fail "$busybox not found (apt-get install busybox-static)"
if command -v ldd >/dev/null 2>&1 && ldd "$busybox" >/dev/null 2>&1; then
  fail "$busybox is dynamically linked; the image needs the static one from busybox-static"
fi

# one build at a time on this machine (tests may call this concurrently)
lock="${TMPDIR:-/tmp}/stromboli-fake-claude-build.lock"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$lock"
  flock -w 300 9 || fail "timed out waiting for $lock"
fi

hash="$(cat "$here/claude" "$here/Containerfile" "$here/build.sh" "$busybox" | sha256sum | cut -c1-64)"
current="$(podman image inspect --format "{{ index .Labels \"$label\" }}" "$image" 2>/dev/null || true)"
if [ "$current" = "$hash" ] && [ "${FAKE_CLAUDE_FORCE:-}" != 1 ]; then
  echo "fake-claude: $image is up to date (${hash:0:12})"
  exit 0
fi

start="$(date +%s%N)"
ctx="$(mktemp -d "${TMPDIR:-/tmp}/fake-claude-ctx.XXXXXX")"
log="$ctx.log"
trap 'rm -rf "$ctx"' EXIT

r="$ctx/rootfs" h="$ctx/homes"
mkdir -p "$r/bin" "$r/usr/bin" "$r/usr/local/bin" "$r/etc" "$r/tmp" "$r/root" "$r/workspace" "$r/home" "$h/home/user"
cp "$busybox" "$r/bin/busybox"
# applet links (/bin/sh, /bin/awk, ...): one perl process instead of ~270 ln forks when available
applets="$("$busybox" --list | grep -vx busybox)"
if command -v perl >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  perl -e '$d = shift; for (@ARGV) { symlink("busybox", "$d/$_") or die "symlink $_: $!\n" }' "$r/bin" $applets
else
  for applet in $applets; do ln -s busybox "$r/bin/$applet"; done
fi
ln -s /bin/env "$r/usr/bin/env"
cp "$here/claude" "$r/usr/local/bin/claude"
cat >"$r/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$r/etc/group" <<'GROUP'
root:x:0:
user:x:1000:
nogroup:x:65534:
GROUP
chmod 0755 "$r" "$r/bin" "$r/usr" "$r/usr/bin" "$r/usr/local" "$r/usr/local/bin" "$r/etc" "$r/home" \
  "$r/bin/busybox" "$r/usr/local/bin/claude" "$h/home/user"
chmod 0644 "$r/etc/passwd" "$r/etc/group"
chmod 0700 "$r/root"
chmod 1777 "$r/tmp" "$r/workspace"
# one tarball, one layer: everything root-owned except /home/user (the image's uid 1000)
tar -cf "$ctx/rootfs.tar" --numeric-owner --owner=0 --group=0 -C "$r" .
tar -rf "$ctx/rootfs.tar" --numeric-owner --owner=1000 --group=1000 -C "$h" ./home/user
cp "$here/Containerfile" "$ctx/Containerfile"

if ! podman build --pull=never --layers=false --label "$label=$hash" -t "$image" -f "$ctx/Containerfile" "$ctx" >"$log" 2>&1; then
  fail "podman build exited non-zero; output in $log"
fi
rm -f "$log"
end="$(date +%s%N)"
echo "fake-claude: built $image (${hash:0:12}) in $(( (end - start) / 1000000 )) ms"
