// Where attempts' output is persisted: <stateDir>/logs/<namespace>/<name>/<uid>/attempt-<n>.jsonl
// (stdout, Claude's stream-json) and attempt-<n>.stderr. Two writers:
//   - the REST path: conmon writes both streams to attempt-<n>.k8s.log as the container prints
//     (k8s-file records); when the attempt ends the runner exports stdout to attempt-<n>.jsonl;
//   - the CLI path: a `podman logs -f` follower appends scrubbed lines to attempt-<n>.jsonl.
//     Appends survive a controller restart: a re-attached follower skips the lines already written.
// Readers prefer the k8s file when there is one (it is complete and scrubbed at read time).
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { scrub } from '../../../contract/redact.ts';
import { parseK8sLog } from './k8s-log.ts';
import type { K8sStream } from './k8s-log.ts';
import type { RunIdentity } from './names.ts';

export class LogStore {
  readonly root: string;

  constructor(options: { root: string }) {
    this.root = resolve(options.root);
  }

  runDir(run: RunIdentity): string {
    return join(this.root, run.namespace, run.name, run.uid);
  }

  stdoutPath(run: RunIdentity, attempt: number): string {
    return join(this.runDir(run), `attempt-${attempt}.jsonl`);
  }

  /** Where conmon writes the attempt's output on the REST path (k8s-file format). */
  k8sPath(run: RunIdentity, attempt: number): string {
    return join(this.runDir(run), `attempt-${attempt}.k8s.log`);
  }

  /** Creates the attempt's directory (conmon does not create parents of its log path). */
  async ensureRunDir(run: RunIdentity): Promise<void> {
    await mkdir(this.runDir(run), { recursive: true, mode: 0o700 });
  }

  /** Whether conmon keeps this attempt's output (the REST path), as opposed to a follower. */
  async hasK8sLog(run: RunIdentity, attempt: number): Promise<boolean> {
    return (await stat(this.k8sPath(run, attempt)).catch(() => undefined)) !== undefined;
  }

  /** The k8s file's logical lines by stream, scrubbed; undefined when the attempt has none. */
  async readK8s(run: RunIdentity, attempt: number): Promise<Record<K8sStream, string[]> | undefined> {
    const text = await readFile(this.k8sPath(run, attempt), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : parseK8sLog(text);
  }

  /**
   * Once the attempt ended (conmon writes no more): rewrites the k8s file with known secret
   * values replaced, when it holds any, so no finished attempt keeps one on disk.
   */
  async scrubK8s(run: RunIdentity, attempt: number): Promise<void> {
    const path = this.k8sPath(run, attempt);
    const raw = await readFile(path, 'utf8').catch(() => undefined);
    if (raw === undefined) return;
    const clean = scrub(raw);
    if (clean === raw) return;
    await writeFile(`${path}.tmp`, clean, { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  }

  /**
   * Writes the finished attempt's stdout as attempt-<n>.jsonl (what status.logRef names) and its
   * stderr tail: the REST path's export of the k8s file. Atomic (temp file, rename); not fsynced,
   * since the k8s file stays the source readers prefer.
   */
  async exportTranscript(run: RunIdentity, attempt: number, stdoutLines: readonly string[], stderrTail: string): Promise<void> {
    const path = this.stdoutPath(run, attempt);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temp = `${path}.tmp`;
    await writeFile(temp, stdoutLines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
    await rename(temp, path);
    await writeFile(this.stderrPath(run, attempt), stderrTail, { mode: 0o600 });
  }

  stderrPath(run: RunIdentity, attempt: number): string {
    return join(this.runDir(run), `attempt-${attempt}.stderr`);
  }

  /**
   * Opens the attempt's log for appending. Returns how many complete lines it already holds (a
   * partial last line, left by a crash mid-write, is cut off) so a re-attached follower skips them.
   */
  async openForAppend(run: RunIdentity, attempt: number): Promise<{ existingLines: number; append: (line: string) => void; close: () => Promise<void> }> {
    const path = this.stdoutPath(run, attempt);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    let existingLines = 0;
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined) {
      const text = await readFile(path, 'utf8');
      const lastNewline = text.lastIndexOf('\n');
      const keep = Buffer.byteLength(text.slice(0, lastNewline + 1), 'utf8');
      if (keep !== info.size) await truncate(path, keep);
      existingLines = lastNewline < 0 ? 0 : text.slice(0, lastNewline + 1).split('\n').length - 1;
    }
    const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    return {
      existingLines,
      append: (line: string) => {
        stream.write(`${line}\n`);
      },
      close: () =>
        new Promise<void>((resolveClose, reject) => {
          stream.end((err?: Error | null) => (err ? reject(err) : resolveClose()));
        }).then(() => fsyncPath(path)),
    };
  }

  async writeStderr(run: RunIdentity, attempt: number, text: string): Promise<void> {
    const path = this.stderrPath(run, attempt);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, text, { mode: 0o600 });
  }

  /** The attempt's stdout transcript (from the k8s file when there is one). */
  async read(run: RunIdentity, attempt: number): Promise<string> {
    const k8s = await this.readK8s(run, attempt);
    if (k8s !== undefined) return k8s.stdout.map((l) => `${l}\n`).join('');
    return readFile(this.stdoutPath(run, attempt), 'utf8').catch(() => '');
  }

  async readStderr(run: RunIdentity, attempt: number): Promise<string> {
    return readFile(this.stderrPath(run, attempt), 'utf8').catch(() => '');
  }

  /** Marks a deleted run's logs for removal at `deleteAfter` (epoch ms); the sweep removes them. */
  async retainUntil(run: RunIdentity, deleteAfter: number): Promise<void> {
    await mkdir(this.runDir(run), { recursive: true, mode: 0o700 });
    await writeFile(join(this.runDir(run), RETENTION_FILE), JSON.stringify({ deleteAfter: new Date(deleteAfter).toISOString() }), { mode: 0o600 });
  }

  /**
   * Removes the logs of deleted runs whose retention passed. Logs of runs that are gone without a
   * retention mark (deleted while no controller ran) get one `orphanRetentionMs` from now.
   * Returns the run directories removed.
   */
  async sweep(liveUids: ReadonlySet<string>, now: number, orphanRetentionMs: number): Promise<string[]> {
    const removed: string[] = [];
    for (const namespace of await list(this.root)) {
      for (const name of await list(join(this.root, namespace))) {
        for (const uid of await list(join(this.root, namespace, name))) {
          if (liveUids.has(uid)) continue;
          const run = { namespace, name, uid };
          const due = await this.#deleteAfter(run);
          if (due === undefined) await this.retainUntil(run, now + orphanRetentionMs);
          else if (due <= now) {
            await this.removeRun(run);
            removed.push(this.runDir(run));
          }
        }
        // Drop the name's directory once its last run is gone (rmdir refuses a non-empty one).
        await rmdir(join(this.root, namespace, name)).catch(() => undefined);
      }
    }
    return removed;
  }

  async #deleteAfter(run: RunIdentity): Promise<number | undefined> {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(this.runDir(run), RETENTION_FILE), 'utf8'));
      const value = typeof parsed === 'object' && parsed !== null && 'deleteAfter' in parsed ? Date.parse(String(parsed.deleteAfter)) : NaN;
      return Number.isFinite(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** Removes every log of a run (all attempts). */
  async removeRun(run: RunIdentity): Promise<void> {
    await rm(this.runDir(run), { recursive: true, force: true });
  }
}

/** Marks a deleted run's log directory with when it may go. */
const RETENTION_FILE = 'retention.json';

async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
