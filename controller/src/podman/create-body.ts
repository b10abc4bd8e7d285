// Pure PodmanRunSpec → the libpod SpecGenerator JSON of `POST /libpod/containers/create`: the
// same container `buildPodmanRunArgs` gives the CLI (args.ts), for the REST path. Deterministic
// (keys written in a fixed order, labels and env sorted) so tests use exact equality.
// libpod silently ignores unknown fields (a typo is a root container with every capability),
// so every field name is spelled once, here, and pinned by a golden test and by an inspect of a
// real container (controller/test/podman/api-client.int.test.ts).
// The validation is args.ts's own: the argv is built first and any RangeError it throws is ours.
import { buildPodmanRunArgs, DEFAULT_PIDS_LIMIT, DEFAULT_USER } from './args.ts';
import type { PodmanRunSpec } from './args.ts';

/** A mount of the SpecGenerator (`mounts`): binds and tmpfs. */
export interface CreateMount {
  destination: string;
  source: string;
  type: 'bind' | 'tmpfs';
  options: string[];
}

/** The SpecGenerator fields we send; every other field keeps podman's default. */
export interface CreateBody {
  name: string;
  image: string;
  command: string[];
  entrypoint?: string[];
  labels: Record<string, string>;
  env: Record<string, string>;
  /** Secrets as environment variables: target variable → secret name (the value never travels). */
  secret_env: Record<string, string>;
  /** Secrets as files. */
  secrets: Array<{ source: string; target: string; uid: number; gid: number; mode: number }>;
  user: string;
  userns?: { nsmode: string };
  cap_drop: string[];
  no_new_privileges: true;
  resource_limits: {
    pids: { limit: number };
    memory?: { limit: number };
    cpu?: { quota?: number; period?: number; shares?: number };
  };
  netns?: { nsmode: string };
  networks?: Record<string, Record<string, never>>;
  mounts: CreateMount[];
  work_dir?: string;
  read_only_filesystem?: true;
  init?: true;
  remove?: true;
  timeout?: number;
  log_configuration?: { driver: 'k8s-file'; path: string };
}

/** Options of buildCreateBody. */
export interface CreateBodyOptions {
  /** Where conmon writes the container's output (k8s-file format). Default: podman's own log (not read by us). */
  logPath?: string;
}

/** `--secret …,type=mount` defaults of the podman CLI, so both paths mount the same file. */
export const MOUNT_SECRET_DEFAULTS = { uid: 0, gid: 0, mode: 0o444 } as const;
/** `--tmpfs` options the podman CLI applies when none are given. */
export const TMPFS_DEFAULT_OPTIONS: readonly string[] = ['rw', 'noexec', 'nosuid', 'nodev'];
/** CFS period podman uses for `--cpus` (quota = cpus × period). */
export const CPU_PERIOD = 100_000;

// podman's network modes that are not network names (`--network MODE`).
const NETWORK_MODES = new Set(['none', 'host', 'slirp4netns', 'private', 'bridge', 'ns']);

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sorted(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => byCodeUnit(a, b)));
}

/** "512m", "1g", "1048576", "64k" → bytes, as podman reads `--memory` (powers of 1024). */
export function memoryBytes(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(value.trim());
  if (match === null) throw new RangeError(`podman run spec: memory "${value}" is not a size (e.g. 512m, 1g)`);
  const unit = (match[2] ?? '').toLowerCase();
  const scale = unit === 'g' ? 1024 ** 3 : unit === 'm' ? 1024 ** 2 : unit === 'k' ? 1024 : 1;
  return Math.round(Number(match[1]) * scale);
}

function cpuQuota(cpus: string): number {
  const value = Number(cpus);
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`podman run spec: cpus "${cpus}" must be a positive number`);
  return Math.round(value * CPU_PERIOD);
}

function network(mode: string): Pick<CreateBody, 'netns' | 'networks'> {
  if (NETWORK_MODES.has(mode)) return { netns: { nsmode: mode === 'private' ? 'bridge' : mode } };
  if (mode.includes(':')) throw new RangeError(`podman run spec: network "${mode}" with options is not supported on the API path`);
  return { netns: { nsmode: 'bridge' }, networks: { [mode]: {} } };
}

/**
 * Why: the REST path must create exactly the container the CLI path runs. Same hardening
 * (cap_drop ALL, no_new_privileges, non-root user, pids limit), same limits, secrets by name only.
 * Throws RangeError for a spec the argv builder refuses, or a value the API cannot carry.
 */
export function buildCreateBody(spec: PodmanRunSpec, options: CreateBodyOptions = {}): CreateBody {
  buildPodmanRunArgs(spec); // the one validation of names, labels, env, secrets and mounts
  const limits: CreateBody['resource_limits'] = { pids: { limit: Math.max(spec.pidsLimit ?? DEFAULT_PIDS_LIMIT, 0) || -1 } };
  if (spec.memory !== undefined) limits.memory = { limit: memoryBytes(spec.memory) };
  if (spec.cpus !== undefined || spec.cpuShares !== undefined) {
    limits.cpu = {
      ...(spec.cpus === undefined ? {} : { quota: cpuQuota(spec.cpus), period: CPU_PERIOD }),
      ...(spec.cpuShares === undefined ? {} : { shares: spec.cpuShares }),
    };
  }
  const secrets = [...spec.secrets].sort((a, b) => byCodeUnit(a.target, b.target) || byCodeUnit(a.name, b.name));
  const mounts: CreateMount[] = spec.mounts.map((m) => ({
    destination: m.target,
    source: m.source,
    type: 'bind',
    options: ['rbind', ...(m.readOnly === true ? ['ro'] : []), ...(m.options ?? []).filter((o) => o !== 'ro' || m.readOnly !== true)],
  }));
  for (const t of spec.tmpfs ?? []) {
    mounts.push({ destination: t.target, source: 'tmpfs', type: 'tmpfs', options: [...(t.options ?? TMPFS_DEFAULT_OPTIONS)] });
  }
  return {
    name: spec.name,
    image: spec.image,
    command: [...spec.command],
    ...(spec.entrypoint === undefined ? {} : { entrypoint: [...spec.entrypoint] }),
    labels: sorted(spec.labels),
    env: sorted(spec.env),
    secret_env: Object.fromEntries(secrets.filter((s) => (s.type ?? 'env') === 'env').map((s) => [s.target, s.name])),
    secrets: secrets.filter((s) => s.type === 'mount').map((s) => ({ source: s.name, target: s.target, ...MOUNT_SECRET_DEFAULTS })),
    user: spec.user ?? DEFAULT_USER,
    ...(spec.userns === undefined ? {} : { userns: { nsmode: spec.userns } }),
    cap_drop: ['ALL'],
    no_new_privileges: true,
    resource_limits: limits,
    ...(spec.network === undefined ? {} : network(spec.network)),
    mounts,
    ...(spec.workdir === undefined ? {} : { work_dir: spec.workdir }),
    ...(spec.readOnlyRootfs === true ? { read_only_filesystem: true as const } : {}),
    ...(spec.init === true ? { init: true as const } : {}),
    ...(spec.remove === true ? { remove: true as const } : {}),
    ...(spec.timeoutSeconds === undefined ? {} : { timeout: spec.timeoutSeconds }),
    ...(options.logPath === undefined ? {} : { log_configuration: { driver: 'k8s-file' as const, path: options.logPath } }),
  };
}
