#!/usr/bin/env bash
# Runs one server of the Kubernetes test bed (etcd or kube-apiserver) for test-infra/kube/harness.ts
# and makes sure it never outlives the test run.
#
# Usage: supervise.sh PIDFILE CMD [ARGS...]
#   Starts CMD (stdin from /dev/null) and writes its pid to PIDFILE.
#   Stops CMD (SIGTERM, then SIGKILL after STROMBOLI_KUBE_STOP_GRACE_S, default 10 s) when
#   - this script's stdin reaches end-of-file: the process that started us, which holds the
#     other end of the pipe, has exited or was killed, even by SIGKILL;
#   - or this script receives SIGTERM, SIGINT or SIGHUP.
#   Exits with CMD's exit status when CMD ends by itself.
set -u

pidfile="$1"; shift
name="$(basename "$1")"
grace="${STROMBOLI_KUBE_STOP_GRACE_S:-10}"

exec 3<&0
"$@" </dev/null 3<&- &
child=$!
echo "$child" >"$pidfile"

stop_child() {
  kill -TERM "$child" 2>/dev/null || return 0
  local waited=0
  while kill -0 "$child" 2>/dev/null; do
    if [ "$waited" -ge $((grace * 10)) ]; then
      echo "supervise: $name did not stop within ${grace}s of SIGTERM; sending SIGKILL" >&2
      kill -KILL "$child" 2>/dev/null
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  wait "$child" 2>/dev/null
  return 0
}

# Watcher: blocks reading the pipe from our parent; EOF means the parent is gone.
(
  while IFS= read -r _ <&3; do :; done
  kill -TERM $$ 2>/dev/null
) 3<&3 &
watcher=$!
exec 3<&-

trap 'stop_child; kill "$watcher" 2>/dev/null; exit 143' TERM INT HUP

wait "$child"
rc=$?
kill "$watcher" 2>/dev/null
exit "$rc"
