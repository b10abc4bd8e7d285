// Lifecycle hooks (spec.podman.lifecycle, stromboli.md §11.1): shell commands run inside the run's
// container before the Claude CLI, fail-fast. onCreateCommand and postCreate run once per session
// (until the session's marker file exists), postStart on every run. Each entry is one complete
// `sh -c` command, as devcontainer.json defines them (Stromboli's code quotes each entry as one
// word instead; docs/compatibility.md). Pure: the script is built here and run by /bin/sh in the
// container, which then execs the CLI; the exit codes below tell a hook's failure from Claude's.
import { parseDuration } from '../../../contract/apis/v1alpha1/index.ts';
import type { LifecycleHooks } from '../../../contract/apis/v1alpha1/index.ts';

/** The exit code of a container whose hook failed (the script prints which one on stderr). */
export const HOOK_FAILED_EXIT = 117;
/** The exit code of a container whose hooks ran past hooksTimeout. */
export const HOOK_TIMEOUT_EXIT = 118;
/** Marker in the session HOME: the once-per-session hooks have succeeded (its content: when, RFC 3339). Stromboli's name. */
export const SESSION_MARKER = '.stromboli-initialized';
/** Lock file in the session HOME while a run's once-per-session hooks may be running (runner/podman-runner.ts). */
export const SESSION_INIT_LOCK = '.stromboli-init.lock';
/** The first word of every line the hook script prints on stderr. */
export const HOOK_LOG_PREFIX = 'stromboli-hooks:';
/** Seconds `timeout` waits after SIGTERM before SIGKILL (Stromboli's --kill-after). */
const KILL_AFTER_SECONDS = 10;

/** Whether a spec has hooks that run once per session. */
export function hasInitHooks(hooks: LifecycleHooks | undefined): boolean {
  return (hooks?.onCreateCommand?.length ?? 0) + (hooks?.postCreate?.length ?? 0) > 0;
}

/** Whether a spec has any hook to run. */
export function hasHooks(hooks: LifecycleHooks | undefined): boolean {
  return hasInitHooks(hooks) || (hooks?.postStart?.length ?? 0) > 0;
}

/** `'text'` for sh: single quotes, each `'` written as `'\''`. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The hooks themselves, as one script: each entry its own `sh -c`, a failure ends it with HOOK_FAILED_EXIT and says which. */
function hooksBody(hooks: LifecycleHooks): string {
  const step = (kind: string, entries: readonly string[] | undefined): string[] =>
    (entries ?? []).map(
      (entry, index) => `sh -c ${shellQuote(entry)} || { rc=$?; echo "${HOOK_LOG_PREFIX} ${kind}[${index}] failed with exit code $rc" >&2; exit ${HOOK_FAILED_EXIT}; }`,
    );
  const lines: string[] = [];
  if (hasInitHooks(hooks)) {
    const marker = `"$HOME/${SESSION_MARKER}"`;
    const temp = `"$HOME/${SESSION_MARKER}.tmp"`;
    lines.push(
      `if [ ! -e ${marker} ]; then`,
      ...step('onCreateCommand', hooks.onCreateCommand),
      ...step('postCreate', hooks.postCreate),
      // Written atomically, then the lock the runner took for this run goes.
      `  date -u +%Y-%m-%dT%H:%M:%SZ > ${temp} && mv -f ${temp} ${marker} || { echo "${HOOK_LOG_PREFIX} could not write ${SESSION_MARKER}" >&2; exit ${HOOK_FAILED_EXIT}; }`,
      `  rm -f "$HOME/${SESSION_INIT_LOCK}"`,
      'fi',
    );
  }
  lines.push(...step('postStart', hooks.postStart));
  return lines.join('\n');
}

/** Seconds of hooksTimeout, rounded up (timeout(1) takes whole seconds); undefined without one. */
export function hooksTimeoutSeconds(hooks: LifecycleHooks | undefined): number | undefined {
  const ms = hooks?.hooksTimeout === undefined ? undefined : parseDuration(hooks.hooksTimeout);
  return ms === undefined || ms <= 0 ? undefined : Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The container's entrypoint when the spec has hooks: `/bin/sh -c <launcher> stromboli-hooks
 * <hooks>`, followed by the command (the CLI, from PATH: `claude` and its arguments). The launcher
 * runs the hooks (under `timeout` with hooksTimeout), then execs the command. Undefined without hooks.
 */
export function hookEntrypoint(hooks: LifecycleHooks | undefined): string[] | undefined {
  if (hooks === undefined || !hasHooks(hooks)) return undefined;
  const seconds = hooksTimeoutSeconds(hooks);
  const run =
    seconds === undefined
      ? 'sh -c "$hooks" || exit $?'
      : [
          `command -v timeout >/dev/null 2>&1 || { echo "${HOOK_LOG_PREFIX} hooksTimeout needs timeout(1) in the image" >&2; exit ${HOOK_FAILED_EXIT}; }`,
          // Plain seconds and -k: the form both coreutils and busybox timeout(1) read.
          `timeout -k ${KILL_AFTER_SECONDS} ${seconds} sh -c "$hooks"`,
          'rc=$?',
          `if [ "$rc" -eq ${HOOK_FAILED_EXIT} ]; then exit "$rc"; fi`,
          `if [ "$rc" -ne 0 ]; then echo "${HOOK_LOG_PREFIX} the hooks ran past hooksTimeout (${seconds}s)" >&2; exit ${HOOK_TIMEOUT_EXIT}; fi`,
        ].join('\n');
  const launcher = ['hooks=$1', 'shift', run, 'exec "$@"'].join('\n');
  return ['/bin/sh', '-c', launcher, 'stromboli-hooks', hooksBody(hooks)];
}
