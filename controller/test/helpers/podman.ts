// Real podman for the podman and e2e suites: the fake image build, containers found by label,
// podman events, and the removal of everything a test's server created (by its owner label).
// Commands go through node:child_process directly: the suites check the product's podman
// client from the outside, so they must not share it.
import { execFile, spawn } from 'node:child_process';
import { Labels } from '../../src/runner/names.ts';
import { CONTAINERS_CONF, REPO_ROOT } from './repo.ts';

export { Labels };

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with the project's CONTAINERS_CONF; never throws for a non-zero exit. */
export async function runCommand(file: string, args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> {
  return await new Promise((resolveResult) => {
    execFile(
      file,
      [...args],
      { env: { ...process.env, CONTAINERS_CONF }, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const exitCode = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolveResult({ exitCode, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
      },
    );
  });
}

/** Runs podman and returns its stdout; a non-zero exit throws with podman's stderr. */
export async function podman(args: readonly string[]): Promise<string> {
  const result = await runCommand('podman', args);
  if (result.exitCode !== 0) throw new Error(`podman ${args.join(' ')} exited ${result.exitCode}: ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Builds (or finds up to date) localhost/stromboli/fake-claude:latest. A missing podman or a
 * failed build throws: the podman project fails rather than skips (STYLE.md §5).
 */
export async function ensureFakeImage(): Promise<void> {
  const result = await runCommand('bash', [`${REPO_ROOT}/images/fake-claude/build.sh`], 300_000);
  if (result.exitCode !== 0) {
    throw new Error(`the fake Claude image could not be built (podman missing or broken?): ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

/** A container as `podman ps --format json` shows it. */
export interface ListedContainer {
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asRecord(value))) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Containers carrying every label given; `all` includes stopped and created ones (`ps -a`). */
export async function listContainers(labels: Readonly<Record<string, string>>, options: { all: boolean }): Promise<ListedContainer[]> {
  const filters = Object.entries(labels).flatMap(([k, v]) => ['--filter', `label=${k}=${v}`]);
  if (filters.length === 0) throw new Error('listContainers needs at least one label (never list every container of the machine)');
  const text = await podman(['ps', ...(options.all ? ['--all'] : []), '--format', 'json', ...filters]);
  const parsed: unknown = JSON.parse(text.trim() === '' ? '[]' : text);
  if (!Array.isArray(parsed)) throw new Error(`podman ps did not print a JSON array: ${text.slice(0, 200)}`);
  return parsed.map((item) => {
    const c = asRecord(item);
    const names = Array.isArray(c['Names']) ? c['Names'].filter((n): n is string => typeof n === 'string') : [];
    return { id: String(c['Id'] ?? ''), name: names[0] ?? '', state: String(c['State'] ?? ''), labels: stringRecord(c['Labels']) };
  });
}

/** Every container (any state) of one run, by its uid label. */
export async function containersOfRun(uid: string): Promise<ListedContainer[]> {
  return listContainers({ [Labels.uid]: uid }, { all: true });
}

/** Running containers of one server (its owner label). */
export async function runningContainersOf(owner: string): Promise<ListedContainer[]> {
  return listContainers({ [Labels.managed]: 'true', [Labels.owner]: owner }, { all: false });
}

/** Force-removes every container of one owner label; returns how many there were. */
export async function removeContainersOfOwner(owner: string): Promise<number> {
  const found = await listContainers({ [Labels.owner]: owner }, { all: true });
  if (found.length > 0) await podman(['rm', '--force', '--time', '0', ...found.map((c) => c.id)]);
  return found.length;
}

/** `podman inspect` of one container, parsed; undefined when it does not exist. */
export async function inspectContainer(nameOrId: string): Promise<Record<string, unknown> | undefined> {
  const result = await runCommand('podman', ['container', 'inspect', '--format', 'json', nameOrId]);
  if (result.exitCode !== 0) return undefined;
  const parsed: unknown = JSON.parse(result.stdout);
  return Array.isArray(parsed) ? asRecord(parsed[0]) : undefined;
}

/** One entry of `podman events --format json`. */
export interface PodmanEvent {
  id: string;
  name: string;
  status: string;
  time: string;
}

/**
 * Container events (create, start, died, remove…) of containers with `label`, between `since` and
 * now. Exact where sampling `podman ps` could miss a short-lived container.
 */
export async function containerEvents(label: { key: string; value: string }, since: Date): Promise<PodmanEvent[]> {
  const until = new Date(Date.now() + 1000);
  const text = await podman([
    'events',
    '--stream=false',
    '--since',
    since.toISOString(),
    '--until',
    until.toISOString(),
    '--filter',
    'type=container',
    '--filter',
    `label=${label.key}=${label.value}`,
    '--format',
    'json',
  ]);
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const e = asRecord(JSON.parse(line) as unknown);
      return { id: String(e['ID'] ?? ''), name: String(e['Name'] ?? ''), status: String(e['Status'] ?? ''), time: String(e['Time'] ?? '') };
    });
}

/** A `podman events` stream being recorded (see followContainerEvents). */
export interface EventRecorder {
  /** The events seen so far. */
  readonly events: PodmanEvent[];
  /** Ends the stream (after a short wait for events still in flight); resolves with every event seen. */
  stop(): Promise<PodmanEvent[]>;
}

/**
 * Records container events of containers with `label` as they happen, from a `podman events`
 * stream started now. Unlike containerEvents, it cannot lose events to the rotation of podman's
 * events file (1 MB by default) when a test makes hundreds of containers. The stream repeats
 * events when the file rotates (it reads the new file from its start): each event is kept once,
 * by container id, status and time.
 */
export async function followContainerEvents(label: { key: string; value: string }): Promise<EventRecorder> {
  const child = spawn('podman', ['events', '--filter', 'type=container', '--filter', `label=${label.key}=${label.value}`, '--format', 'json'], {
    env: { ...process.env, CONTAINERS_CONF },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const events: PodmanEvent[] = [];
  const seen = new Set<string>();
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    let newline = partial.indexOf('\n');
    while (newline >= 0) {
      const line = partial.slice(0, newline).trim();
      partial = partial.slice(newline + 1);
      if (line !== '') {
        const e = asRecord(JSON.parse(line) as unknown);
        const event = { id: String(e['ID'] ?? ''), name: String(e['Name'] ?? ''), status: String(e['Status'] ?? ''), time: String(e['Time'] ?? '') };
        const key = `${event.id}/${event.status}/${event.time}`;
        if (!seen.has(key)) {
          seen.add(key);
          events.push(event);
        }
      }
      newline = partial.indexOf('\n');
    }
  });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  // podman prints nothing until the first event: give it a moment to subscribe.
  await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
  return {
    events,
    async stop() {
      await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
      child.kill('SIGTERM');
      await exited;
      return events;
    },
  };
}
