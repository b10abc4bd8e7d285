// `node bin/stromboli.js serve` as a real child process, for what only a separate process can
// show (kill -9 mid-run, then a restart on the same directories). The URL is read from the
// `stromboli serving` log line (pino JSON on stderr, field url). The cleanup kills the child by
// its pid if it still runs and removes the containers of its owner label.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { onTestFailed } from 'vitest';
import { ownerOf } from '../../../cmd/serve.ts';
import type { Cleanup } from './cleanup.ts';
import { LogLines } from './embedded-server.ts';
import { removeContainersOfOwner } from './podman.ts';
import { CONTAINERS_CONF, REPO_ROOT, STROMBOLI_BIN } from './repo.ts';
import type { TempDirs } from './temp-dirs.ts';

export interface ChildServer {
  pid: number;
  url: string;
  owner: string;
  logs: LogLines;
  /** Resolves with the exit code or signal once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** kill -9 (SIGKILL) and wait until the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful: drains and leaves containers running), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The test's environment without credentials or server secrets (Claude keys, STROMBOLI_* tokens
 * and JWT secrets): the child must not create shared podman secrets or change the fake's model.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(ANTHROPIC_|CLAUDE_|STROMBOLI_)/.test(key)) continue;
    env[key] = value;
  }
  return env;
}

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Starts `stromboli serve --port 0` over `dirs` (extra flags appended) and waits for its
 * `stromboli serving` line. Fails with the child's stderr when it exits or stays silent first.
 */
export async function spawnServer(cleanup: Cleanup, dirs: TempDirs, extraArgs: readonly string[] = [], startTimeoutMs = 60_000): Promise<ChildServer> {
  await mkdir(dirs.stateDir, { recursive: true, mode: 0o700 });
  const owner = await ownerOf(dirs.stateDir);
  const args = ['serve', '--runs-dir', dirs.runsDir, '--state-dir', dirs.stateDir, '--host', '127.0.0.1', '--port', '0', '--containers-conf', CONTAINERS_CONF, ...extraArgs];
  const child = await spawnStromboli(cleanup, { args, owner, readyMessage: 'stromboli serving', what: `stromboli serve (${dirs.stateDir})`, startTimeoutMs });
  const url = child.ready['url'];
  if (typeof url !== 'string') throw new Error(`stromboli serve logged no url:\n${child.logs.tail()}`);
  return { ...child, url };
}

/** A `stromboli` child process that logged its ready line. */
export interface ChildProcessHandle {
  pid: number;
  /** The owner label of its containers (removed at cleanup). */
  owner: string;
  logs: LogLines;
  /** The fields of its ready line. */
  ready: Record<string, unknown>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill9(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `node bin/stromboli.js ARGS` without credentials in its environment and waits for the
 * pino line whose msg is `readyMessage`; the cleanup kills it and removes the containers of `owner`.
 * `env` adds to (or overrides) its environment, e.g. what a pod's downward API would set.
 */
export async function spawnStromboli(
  cleanup: Cleanup,
  options: { args: readonly string[]; owner: string; readyMessage: string; what: string; startTimeoutMs?: number; env?: Readonly<Record<string, string>> },
): Promise<ChildProcessHandle> {
  const { owner, readyMessage, what } = options;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const child = spawn(process.execPath, [STROMBOLI_BIN, ...options.args], {
    cwd: REPO_ROOT,
    env: { ...childEnv(), CONTAINERS_CONF, STROMBOLI_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${what} did not start (no pid)`);
  const logs = new LogLines();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  const kill = async (signal: NodeJS.Signals, waitMs: number): Promise<void> => {
    if (!isAlive(child)) return;
    process.kill(pid, signal);
    const timer = new Promise<'timeout'>((resolveTimer) => {
      const t = setTimeout(() => resolveTimer('timeout'), waitMs);
      void exited.then(() => clearTimeout(t));
    });
    if ((await Promise.race([exited, timer])) === 'timeout' && isAlive(child)) {
      process.kill(pid, 'SIGKILL');
      await exited;
    }
  };
  cleanup.add(`stop ${what} (pid ${pid}) and remove its containers`, async () => {
    // SIGTERM first: a node agent then stops the podman service it started (SIGKILL after 15 s).
    await kill('SIGTERM', 15_000);
    await removeContainersOfOwner(owner);
  });
  onTestFailed(() => {
    console.error(`--- last log lines of ${what} pid ${pid} ---\n${logs.tail()}`);
  });

  let partial = '';
  let onLine: ((line: Record<string, unknown>) => void) | undefined;
  child.stdout?.resume();
  child.stderr?.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    let newline = partial.indexOf('\n');
    while (newline >= 0) {
      const before = logs.lines.length;
      logs.push(partial.slice(0, newline));
      partial = partial.slice(newline + 1);
      const added = logs.lines[before];
      if (added !== undefined) onLine?.(added);
      newline = partial.indexOf('\n');
    }
  });

  const ready = await new Promise<Record<string, unknown>>((resolveReady, rejectReady) => {
    const timer = setTimeout(() => rejectReady(new Error(`${what} printed no '${readyMessage}' line within ${startTimeoutMs} ms:\n${logs.tail()}`)), startTimeoutMs);
    const found = logs.withMessage(readyMessage)[0];
    if (found !== undefined) {
      clearTimeout(timer);
      resolveReady(found);
      return;
    }
    onLine = (line) => {
      if (line['msg'] === readyMessage) {
        clearTimeout(timer);
        resolveReady(line);
      }
    };
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rejectReady(new Error(`${what} exited (code ${code}, signal ${signal}) before it was ready:\n${logs.tail()}\n${partial}`));
    });
  });
  onLine = undefined;

  return {
    pid,
    owner,
    logs,
    ready,
    exited,
    kill9: () => kill('SIGKILL', 10_000),
    stop: (graceMs = 40_000) => kill('SIGTERM', graceMs),
  };
}
