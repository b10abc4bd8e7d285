// The parse layer for podman's JSON output (checked against podman 4.3.1): zod schemas that are
// lenient on fields we ignore and strict on the ones we use, and the typed values the rest of
// the controller works with. Nothing outside this file reads podman's raw field names.

import { z } from 'zod';
import { ValidationError } from '../../../contract/errors.ts';
import type { RegistryHit } from '../../../contract/catalog.ts';

/** Our view of a container's lifecycle; podman's finer states fold into these (toContainerStatus). */
export const ContainerStatuses = ['created', 'running', 'exited', 'stopped', 'paused', 'unknown'] as const;
/** The status union phases.ts decides on; small on purpose, so every case is handled. */
export type ContainerStatus = (typeof ContainerStatuses)[number];

// podman 4.x state names (libpod ContainerStatus.String()). "initialized" (created in the
// runtime, not started) is still "created" for us; "stopping" means the process is still alive.
const STATUS_BY_PODMAN_STATE: Readonly<Record<string, ContainerStatus>> = {
  configured: 'created',
  created: 'created',
  initialized: 'created',
  running: 'running',
  stopping: 'running',
  paused: 'paused',
  stopped: 'stopped',
  exited: 'exited',
};

/** Maps podman's state string to ours; a state we do not know (e.g. "removing") is 'unknown'. */
export function toContainerStatus(podmanState: string): ContainerStatus {
  return STATUS_BY_PODMAN_STATE[podmanState.toLowerCase()] ?? 'unknown';
}

/** True once the container's process has ended, so its exit code is meaningful. */
export function isFinishedStatus(status: ContainerStatus): boolean {
  return status === 'exited' || status === 'stopped';
}

/** One container as `podman container inspect` shows it, reduced to what the controller uses. */
export interface ContainerState {
  id: string;
  name: string;
  status: ContainerStatus;
  /** podman's own State.Running. */
  running: boolean;
  /** Set only once the container has finished (status exited or stopped); podman says 0 before. */
  exitCode: number | undefined;
  oomKilled: boolean;
  /** RFC 3339 (UTC, ms); absent until the container has started. */
  startedAt?: string | undefined;
  /** RFC 3339 (UTC, ms); absent until the container has finished. */
  finishedAt?: string | undefined;
  /** Container labels, including those inherited from the image. */
  labels: Record<string, string>;
  /** The image reference the container was created from (podman's ImageName), or its id when podman has no name. */
  image: string;
  imageId: string;
  /** podman's State.Error: human text for display only, never to decide on. Absent when empty. */
  error?: string | undefined;
}

/** One container as `podman ps --all --format json` lists it. */
export interface ContainerSummary {
  id: string;
  /** The first of podman's Names (a container has exactly one name in podman). */
  name: string;
  status: ContainerStatus;
  running: boolean;
  /** Set only once the container has finished (status exited or stopped). */
  exitCode: number | undefined;
  /** RFC 3339 (UTC, s); absent until the container has started. */
  startedAt?: string | undefined;
  /** RFC 3339 (UTC, s); absent until the container has finished. */
  finishedAt?: string | undefined;
  /** RFC 3339 (UTC, s). */
  createdAt: string;
  labels: Record<string, string>;
  image: string;
}

/** One podman secret: metadata only, podman never shows values. */
export interface SecretSummary {
  id: string;
  name: string;
  driver: string;
}

/** One local image. */
export interface ImageSummary {
  id: string;
  /** Fully qualified names (e.g. localhost/stromboli/agent:latest); empty for a dangling image. */
  names: string[];
  /** RFC 3339 (UTC, s). */
  createdAt: string | undefined;
  sizeBytes: number;
}

// Go's zero time ("0001-01-01T00:00:00Z") and Unix time -62135596800 both mean "never".
function toIsoTime(value: string | number | undefined, unit: 'ms' | 's' = 'ms'): string | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value * (unit === 's' ? 1000 : 1) : Date.parse(value);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

const LabelsSchema = z
  .record(z.string(), z.string())
  .nullish()
  .transform((labels) => labels ?? {});

/** One element of `podman container inspect --format json` (an array of these). */
export const ContainerInspectSchema = z
  .object({
    Id: z.string().min(1),
    Name: z.string().min(1),
    Image: z.string(),
    ImageName: z.string().optional(),
    State: z.object({
      Status: z.string(),
      Running: z.boolean(),
      OOMKilled: z.boolean(),
      ExitCode: z.number().int(),
      StartedAt: z.string().optional(),
      FinishedAt: z.string().optional(),
      Error: z.string().optional(),
    }),
    Config: z.object({ Labels: LabelsSchema }),
  })
  .transform((raw): ContainerState => {
    const status = toContainerStatus(raw.State.Status);
    return {
      id: raw.Id,
      name: raw.Name,
      status,
      running: raw.State.Running,
      exitCode: isFinishedStatus(status) ? raw.State.ExitCode : undefined,
      oomKilled: raw.State.OOMKilled,
      startedAt: toIsoTime(raw.State.StartedAt),
      finishedAt: toIsoTime(raw.State.FinishedAt),
      labels: raw.Config.Labels,
      image: raw.ImageName === undefined || raw.ImageName === '' ? raw.Image : raw.ImageName,
      imageId: raw.Image,
      error: raw.State.Error === undefined || raw.State.Error === '' ? undefined : raw.State.Error,
    };
  });

/** The whole output of `podman container inspect --format json`. */
export const ContainerInspectListSchema = z.array(ContainerInspectSchema);

/** One element of `podman ps --all --format json`. */
export const ContainerPsEntrySchema = z
  .object({
    Id: z.string().min(1),
    Names: z.array(z.string()).min(1),
    Image: z.string(),
    State: z.string(),
    ExitCode: z.number().int(),
    StartedAt: z.number().optional(),
    ExitedAt: z.number().optional(),
    // The CLI prints seconds; the REST API (the same list) an RFC 3339 time.
    Created: z.union([z.number(), z.string()]),
    Labels: LabelsSchema,
  })
  .transform((raw): ContainerSummary => {
    const status = toContainerStatus(raw.State);
    return {
      id: raw.Id,
      // Names has at least one element (checked above).
      name: raw.Names[0] ?? '',
      status,
      running: raw.State === 'running',
      exitCode: isFinishedStatus(status) ? raw.ExitCode : undefined,
      startedAt: toIsoTime(raw.StartedAt, 's'),
      finishedAt: isFinishedStatus(status) ? toIsoTime(raw.ExitedAt, 's') : undefined,
      createdAt: toIsoTime(raw.Created, 's') ?? new Date(0).toISOString(),
      labels: raw.Labels,
      image: raw.Image,
    };
  });

/** The whole output of `podman ps --all --format json` or of `GET /libpod/containers/json` (podman prints [] when nothing matches). */
export const ContainerPsListSchema = z
  .array(ContainerPsEntrySchema)
  .nullable()
  .transform((list) => list ?? []);

/**
 * One line of `podman secret ls --format '{{json .}}'`. podman 4.3 has no `--format json` for
 * secrets (it prints the word "json"), so the client asks for one JSON object per line.
 */
export const SecretLsEntrySchema = z
  .object({ ID: z.string().min(1), Name: z.string().min(1), Driver: z.string() })
  .transform((raw): SecretSummary => ({ id: raw.ID, name: raw.Name, driver: raw.Driver }));

/** One element of `podman images --format json`. */
export const ImageEntrySchema = z
  .object({
    Id: z.string().min(1),
    Names: z.array(z.string()).nullish(),
    Created: z.number().optional(),
    Size: z.number(),
  })
  .transform(
    (raw): ImageSummary => ({
      id: raw.Id,
      names: raw.Names ?? [],
      createdAt: toIsoTime(raw.Created, 's'),
      sizeBytes: raw.Size,
    }),
  );

/** The whole output of `podman images --format json`. */
export const ImageListSchema = z
  .array(ImageEntrySchema)
  .nullable()
  .transform((list) => list ?? []);

/** Parses `podman container inspect --format json` stdout. Throws ValidationError. */
export function parseContainerInspect(stdout: string): ContainerState[] {
  return parseWith(ContainerInspectListSchema, parseJson(stdout, 'container inspect'), 'container inspect');
}

/** Parses `podman ps --all --format json` stdout. Throws ValidationError. */
export function parseContainerList(stdout: string): ContainerSummary[] {
  return parseWith(ContainerPsListSchema, parseJson(stdout, 'ps'), 'ps');
}

/** Parses `podman secret ls --format '{{json .}}'` stdout (JSON lines). Throws ValidationError. */
export function parseSecretList(stdout: string): SecretSummary[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => parseWith(SecretLsEntrySchema, parseJson(line, 'secret ls'), 'secret ls'));
}

/** Parses `podman images --format json` stdout. Throws ValidationError. */
export function parseImageList(stdout: string): ImageSummary[] {
  return parseWith(ImageListSchema, parseJson(stdout, 'images'), 'images');
}

/** The container id printed by `podman run --detach`: its last non-empty stdout line. Throws ValidationError. */
export function parseContainerId(stdout: string): string {
  const id = stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '').at(-1);
  if (id === undefined || !/^[0-9a-f]{64}$/.test(id)) {
    throw new ValidationError('podman output is not a container id', { details: { command: 'run' } });
  }
  return id;
}


function parseJson(text: string, command: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError('podman output is not json', { cause: err, details: { command } });
  }
}

// Issue paths and codes only: podman's output may hold env values, which must not reach details.
function parseWith<S extends z.ZodType>(schema: S, value: unknown, command: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), code: issue.code }));
    throw new ValidationError('podman output does not match the expected shape', { cause: parsed.error, details: { command, issues } });
  }
  return parsed.data;
}

/** One repository found by `podman search`: the contract's RegistryHit. */
export type SearchHit = RegistryHit;

// podman 4.3 writes Official and Automated as "[OK]" or "" (a v2 registry has neither), Stars as 0.
const SearchFlagSchema = z
  .union([z.string(), z.boolean()])
  .optional()
  .transform((value) => value === true || value === '[OK]');

/** One element of `podman search --format json`. */
export const SearchEntrySchema = z
  .object({
    Index: z.string(),
    Name: z.string().min(1),
    Description: z.string().optional(),
    Stars: z.number().optional(),
    Official: SearchFlagSchema,
    Automated: SearchFlagSchema,
  })
  .transform(
    (raw): SearchHit => ({ index: raw.Index, name: raw.Name, description: raw.Description ?? '', stars: raw.Stars ?? 0, official: raw.Official, automated: raw.Automated }),
  );

/** Parses `podman search --format json` stdout (nothing at all when no repository matches). Throws ValidationError. */
export function parseSearchResults(stdout: string): SearchHit[] {
  if (stdout.trim() === '') return [];
  return parseWith(z.array(SearchEntrySchema).nullable().transform((list) => list ?? []), parseJson(stdout, 'search'), 'search');
}

/** The image id `podman pull --quiet` prints: its last non-empty stdout line. Throws ValidationError. */
export function parseImageId(stdout: string): string {
  const id = stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '').at(-1);
  if (id === undefined || !/^[0-9a-f]{64}$/.test(id)) {
    throw new ValidationError('podman output is not an image id', { details: { command: 'pull' } });
  }
  return id;
}
