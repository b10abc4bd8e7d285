// Pure PodmanRunSpec → argv for `podman run`. Deterministic (sorted env, labels and secrets, a
// fixed flag order) so the same run always gives the same argv, and tests use exact equality.
// Secrets travel only as podman secret names (--secret), never as values in argv or env.
// This file imports nothing: values that cannot be written safely throw a RangeError, which
// means a caller skipped validation (the runner validates specs before building argv).

/** A podman secret given to the container; the spec carries the secret's name, never its value. */
export interface PodmanSecretRef {
  /** Name of an existing podman secret. */
  name: string;
  /** Env variable name (type env) or absolute file path in the container (type mount). */
  target: string;
  /** `env`: an environment variable; `mount`: a file (e.g. the Claude credentials). Default: env. */
  type?: 'env' | 'mount' | undefined;
}

/** A bind mount: `-v source:target[:options]`. */
export interface PodmanMount {
  /** Host path (absolute) or named volume. */
  source: string;
  /** Absolute path in the container. */
  target: string;
  /** Adds the `ro` option first. Default: false (read-write). */
  readOnly?: boolean | undefined;
  /** Further -v options (z, Z, nosuid…), written in the given order. Default: none. */
  options?: readonly string[] | undefined;
}

/** A tmpfs mount: `--tmpfs target[:options]`. */
export interface PodmanTmpfs {
  target: string;
  /** tmpfs options such as "size=64m", "mode=1777". Default: podman's (rw,noexec,nosuid,nodev). */
  options?: readonly string[] | undefined;
}

/** Everything `podman run` needs for one agent container; built by the runner from an AgentRun. */
export interface PodmanRunSpec {
  /** Container name, deterministic per run and attempt. */
  name: string;
  image: string;
  /** Command and arguments after the image (e.g. `claude -p … -- prompt`). */
  command: readonly string[];
  /** `--entrypoint`, replacing the image's (the lifecycle hooks' launcher, runner/lifecycle.ts). Default: the image's. */
  entrypoint?: readonly string[] | undefined;
  /** Container labels, written sorted by key. */
  labels: Readonly<Record<string, string>>;
  /** Plain environment variables, written sorted by key. Never put a secret value here: use `secrets`. */
  env: Readonly<Record<string, string>>;
  /** Podman secrets, written sorted by target. */
  secrets: readonly PodmanSecretRef[];
  /** Bind mounts, in the given order (parents before children). */
  mounts: readonly PodmanMount[];
  /** `--user`. Default: "1000:1000" (never root: the CLI refuses bypass mode as root). */
  user?: string | undefined;
  /** `--userns`, e.g. "keep-id" for rootless podman with a host-owned session dir. Default: podman's. */
  userns?: string | undefined;
  /** `-w`. Default: the image's working directory. */
  workdir?: string | undefined;
  /** `--memory`, e.g. "512m". Default: no limit. */
  memory?: string | undefined;
  /** `--cpus`, e.g. "1". Default: no limit. */
  cpus?: string | undefined;
  /** `--cpu-shares`. Default: podman's (1024). */
  cpuShares?: number | undefined;
  /** `--pids-limit`; 0 or -1 means unlimited. Default: 256. */
  pidsLimit?: number | undefined;
  /** `--network`, e.g. "none" or "slirp4netns". Default: podman's (the CLI needs the API). */
  network?: string | undefined;
  /** Podman's own `--timeout` in whole seconds: the deadline holds even if the controller dies. Default: none. */
  timeoutSeconds?: number | undefined;
  /** `-d`: return once the container started. */
  detach: boolean;
  /** `--rm`. Default: false: the controller removes containers itself after reading their logs. */
  remove?: boolean | undefined;
  /** `--read-only` root filesystem. Default: false. */
  readOnlyRootfs?: boolean | undefined;
  /** `--tmpfs` mounts, in the given order. Default: none. */
  tmpfs?: readonly PodmanTmpfs[] | undefined;
  /** `--init`: a tiny init as PID 1 that reaps zombies and forwards signals. Default: false. */
  init?: boolean | undefined;
}

/** The hardening flags added to every container (Stromboli adds none). */
export const HARDENING_ARGS: readonly string[] = ['--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];
/** `--user` when the spec names none. */
export const DEFAULT_USER = '1000:1000';
/** `--pids-limit` when the spec names none. */
export const DEFAULT_PIDS_LIMIT = 256;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fail(message: string): never {
  throw new RangeError(`podman run spec: ${message}`);
}

function check(ok: boolean, message: string): void {
  if (!ok) fail(message);
}

/** A value podman could mistake for a flag, or that exec cannot carry. */
function isUnsafeValue(value: string): boolean {
  return value === '' || value.startsWith('-') || value.includes('\0');
}

function checkValue(value: string, what: string): void {
  check(!isUnsafeValue(value), `${what} must be non-empty, without NUL, and not start with "-"`);
}

function mountSpec(source: string, target: string, options: readonly string[], what: string): string {
  check(!source.includes(':') && !source.includes('\0') && source !== '', `${what} source must be non-empty without ":"`);
  check(target.startsWith('/') && !target.includes(':') && !target.includes('\0'), `${what} target must be absolute without ":"`);
  for (const option of options) check(/^[^\x00:,]+$/.test(option), `${what} option "${option}" is not a single option`);
  return options.length === 0 ? `${source}:${target}` : `${source}:${target}:${options.join(',')}`;
}

function secretSpec(secret: PodmanSecretRef): string {
  const type = secret.type ?? 'env';
  check(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(secret.name), `secret name "${secret.name}" is not a podman secret name`);
  if (type === 'env') check(ENV_NAME.test(secret.target), `secret target "${secret.target}" is not an env name`);
  else check(/^\/[^\x00,]*$/.test(secret.target), `secret target "${secret.target}" is not an absolute path without ","`);
  return `${secret.name},type=${type},target=${secret.target}`;
}

function integer(value: number, what: string, min: number): string {
  check(Number.isSafeInteger(value) && value >= min, `${what} must be an integer >= ${min}`);
  return String(value);
}

/**
 * Why: the one place `podman run` flags are spelled. Returns the arguments after `podman`:
 * run, --name, [-d], [--rm], --label…, [--userns], --user, --cap-drop ALL, --security-opt
 * no-new-privileges, --pids-limit, [--read-only], --tmpfs…, [--init], [--network], [--memory],
 * [--cpus], [--cpu-shares], [--timeout], -e…, --secret…, -v…, [-w], [--entrypoint], image, command….
 * Throws RangeError for a value that would change the meaning of argv (a caller bug).
 */
export function buildPodmanRunArgs(spec: PodmanRunSpec): string[] {
  checkValue(spec.name, 'name');
  checkValue(spec.image, 'image');
  const args = ['run', '--name', spec.name];
  if (spec.detach) args.push('-d');
  if (spec.remove === true) args.push('--rm');
  // Images are built locally; podman must never try a registry (a missing image fails at once).
  args.push('--pull', 'never');

  for (const [key, value] of Object.entries(spec.labels).sort(([a], [b]) => byCodeUnit(a, b))) {
    check(/^[^\x00=]+$/.test(key) && !value.includes('\0'), `label "${key}" must be a non-empty key without "="`);
    args.push('--label', `${key}=${value}`);
  }
  if (spec.userns !== undefined) {
    checkValue(spec.userns, 'userns');
    args.push('--userns', spec.userns);
  }
  const user = spec.user ?? DEFAULT_USER;
  checkValue(user, 'user');
  args.push('--user', user, ...HARDENING_ARGS);
  args.push('--pids-limit', integer(spec.pidsLimit ?? DEFAULT_PIDS_LIMIT, 'pidsLimit', -1));
  if (spec.readOnlyRootfs === true) args.push('--read-only');
  for (const tmpfs of spec.tmpfs ?? []) {
    check(tmpfs.target.startsWith('/') && !tmpfs.target.includes(':'), 'tmpfs target must be absolute without ":"');
    const options = tmpfs.options ?? [];
    for (const option of options) check(/^[^\x00:,]+$/.test(option), `tmpfs option "${option}" is not a single option`);
    args.push('--tmpfs', options.length === 0 ? tmpfs.target : `${tmpfs.target}:${options.join(',')}`);
  }
  if (spec.init === true) args.push('--init');
  if (spec.network !== undefined) {
    checkValue(spec.network, 'network');
    args.push('--network', spec.network);
  }
  if (spec.memory !== undefined) {
    checkValue(spec.memory, 'memory');
    args.push('--memory', spec.memory);
  }
  if (spec.cpus !== undefined) {
    checkValue(spec.cpus, 'cpus');
    args.push('--cpus', spec.cpus);
  }
  if (spec.cpuShares !== undefined) args.push('--cpu-shares', integer(spec.cpuShares, 'cpuShares', 0));
  if (spec.timeoutSeconds !== undefined) args.push('--timeout', integer(spec.timeoutSeconds, 'timeoutSeconds', 1));

  const secretTargets = new Set<string>();
  const secrets = [...spec.secrets].sort((a, b) => byCodeUnit(a.target, b.target) || byCodeUnit(a.name, b.name));
  for (const secret of secrets) {
    check(!secretTargets.has(secret.target), `two secrets target "${secret.target}"`);
    secretTargets.add(secret.target);
  }
  for (const [key, value] of Object.entries(spec.env).sort(([a], [b]) => byCodeUnit(a, b))) {
    check(ENV_NAME.test(key) && !value.includes('\0'), `env name "${key}" is not an env name`);
    check(!secretTargets.has(key), `env "${key}" would shadow a secret`);
    args.push('-e', `${key}=${value}`);
  }
  for (const secret of secrets) args.push('--secret', secretSpec(secret));
  for (const mount of spec.mounts) {
    check(!(mount.readOnly === true && (mount.options ?? []).includes('rw')), `mount ${mount.target} is both ro and rw`);
    const options = mount.readOnly === true ? ['ro', ...(mount.options ?? []).filter((o) => o !== 'ro')] : [...(mount.options ?? [])];
    args.push('-v', mountSpec(mount.source, mount.target, options, `mount ${mount.target}`));
  }
  if (spec.workdir !== undefined) {
    check(spec.workdir.startsWith('/') && !spec.workdir.includes('\0'), 'workdir must be absolute');
    args.push('-w', spec.workdir);
  }
  if (spec.entrypoint !== undefined) {
    check(spec.entrypoint.length > 0 && spec.entrypoint.every((arg) => !arg.includes('\0')), 'entrypoint must be non-empty without NUL');
    args.push('--entrypoint', JSON.stringify(spec.entrypoint)); // podman reads a JSON array as the exec form
  }
  args.push(spec.image);
  for (const arg of spec.command) check(!arg.includes('\0'), 'command arguments must not contain NUL');
  args.push(...spec.command);
  return args;
}
