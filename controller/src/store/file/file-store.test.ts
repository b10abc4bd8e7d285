import { spawn, spawnSync } from 'node:child_process';
import { appendFile, copyFile, mkdir, mkdtemp, open, readdir, readFile, rename, rm, rmdir, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'yaml';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isAppError } from '../../../../contract/errors.ts';
import { canonicalHash } from '../../../../contract/store/canonical-json.ts';
import type { FileProblem, FileStoreLogger, FileStoreOptions } from './file-store.ts';
import { FileStore } from './file-store.ts';
import type { ConformanceStatus } from '../../../../contract/store/conformance.ts';
import { describeStoreConformance } from '../../../../contract/store/conformance.ts';
import type { Resource, StoreEvent } from '../../../../contract/store/store.ts';

type Status = ConformanceStatus;

// Counts the YAML parses, so a test can see which manifests an open parsed.
vi.mock('yaml', async (original) => {
  const actual = await original<typeof yaml>();
  return { ...actual, parseAllDocuments: vi.fn(actual.parseAllDocuments) };
});
const yamlParses = (): number => vi.mocked(yaml.parseAllDocuments).mock.calls.length;

describeStoreConformance('FileStore (API-created runs)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'file-store-conformance-'));
  const store = await FileStore.open<Status>({ runsDir: join(root, 'runs'), stateDir: join(root, 'state'), settleMs: 20 });
  return {
    store,
    close: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

interface LogLine {
  level: 'warn' | 'info' | 'debug';
  obj: Record<string, unknown>;
  msg: string;
}

describe('FileStore', () => {
  let root: string;
  let runsDir: string;
  let stateDir: string;
  let logLines: LogLine[];
  let opened: FileStore<Status>[];
  const controllers: AbortController[] = [];

  const log: FileStoreLogger = {
    warn: (obj, msg) => logLines.push({ level: 'warn', obj, msg }),
    info: (obj, msg) => logLines.push({ level: 'info', obj, msg }),
    debug: (obj, msg) => logLines.push({ level: 'debug', obj, msg }),
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'file-store-'));
    runsDir = join(root, 'runs');
    stateDir = join(root, 'state');
    await mkdir(runsDir);
    logLines = [];
    opened = [];
  });

  afterEach(async () => {
    for (const controller of controllers.splice(0)) controller.abort();
    for (const store of opened) await store.close();
    await rm(root, { recursive: true, force: true });
  });

  async function openStore(extra: Partial<FileStoreOptions<Status>> = {}): Promise<FileStore<Status>> {
    const store = await FileStore.open<Status>({ runsDir, stateDir, settleMs: 30, log, ...extra });
    opened.push(store);
    return store;
  }

  async function reopen(store: FileStore<Status>, extra: Partial<FileStoreOptions<Status>> = {}): Promise<FileStore<Status>> {
    await store.close();
    return openStore(extra);
  }

  function run(name: string, spec: string = 'prompt: hi', extra: string = ''): string {
    const body = spec
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n');
    return `apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: ${name}\n${extra}spec:\n${body}\n`;
  }

  async function put(file: string, content: string): Promise<void> {
    await mkdir(join(runsDir, file, '..'), { recursive: true });
    await writeFile(join(runsDir, file), content);
  }

  const ref = (name: string, namespace = 'default') => ({ namespace, name });

  async function names(store: FileStore<Status>): Promise<string[]> {
    return (await store.list()).map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  }

  async function tryGet(store: FileStore<Status>, name: string): Promise<Resource<Status> | undefined> {
    return store.get(ref(name)).catch(() => undefined);
  }

  function problemsOf(store: FileStore<Status>, file: string): FileProblem[] {
    return store.problems().filter((p) => p.path === join(runsDir, file));
  }

  function record(store: FileStore<Status>): { events: StoreEvent<Status>[]; summary: () => string[] } {
    const controller = new AbortController();
    controllers.push(controller);
    const events: StoreEvent<Status>[] = [];
    void (async () => {
      for await (const event of store.watch(controller.signal)) events.push(event);
    })();
    return { events, summary: () => events.map((e) => `${e.type} ${e.object.metadata.name}`) };
  }

  async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
    const err: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    return isAppError(err) ? err.code : undefined;
  }

  /** Every entry of every journal generation in stateDir, in order: what a crash now would keep beyond the snapshot. */
  async function journalEntries(): Promise<{ rv: number; put?: { manifest?: string; object: Resource<Status> }; delete?: { namespace: string; name: string } }[]> {
    const files = (await readdir(stateDir)).filter((f) => /^journal-\d+\.jsonl$/.test(f)).sort((a, b) => Number(a.slice(8, -6)) - Number(b.slice(8, -6)));
    const lines: string[] = [];
    for (const file of files) lines.push(...(await readFile(join(stateDir, file), 'utf8')).split('\n').filter((l) => l !== ''));
    return lines.map((l) => JSON.parse(l) as { rv: number });
  }

  /** Every file under runsDir with its content, to prove the store never writes there. */
  async function snapshot(dir: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) out[join(entry.parentPath, entry.name)] = await readFile(join(entry.parentPath, entry.name), 'utf8');
    }
    return out;
  }

  it('loads every AgentRun of every manifest, multi-document files and subfolders included', async () => {
    await put('a.yaml', `${run('one')}---\n${run('two', 'prompt: hi', '  namespace: team-a\n')}---\n`);
    await put('nested/deeper/b.yml', run('three'));
    await put('notes.txt', run('ignored'));
    const store = await openStore();
    expect(await names(store)).toEqual(['default/one', 'default/three', 'team-a/two']);
    const one = await store.get(ref('one'));
    expect(one.metadata).toMatchObject({ generation: 1, namespace: 'default' });
    expect(one.spec).toEqual({ prompt: 'hi' });
    expect(store.problems()).toEqual([]);
  });

  it('skips documents of another kind or apiVersion and lists them as skipped', async () => {
    const other = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n';
    const wrongVersion = run('old').replace('v1alpha1', 'v1beta1');
    await put('mixed.yaml', `${other}---\n${wrongVersion}---\n${run('good')}`);
    const store = await openStore();
    expect(await names(store)).toEqual(['default/good']);
    const problems = problemsOf(store, 'mixed.yaml');
    expect(problems.map((p) => [p.document, p.skipped])).toEqual([
      [1, true],
      [2, true],
    ]);
    expect(logLines.filter((l) => l.msg === 'manifest document skipped')).toHaveLength(2);
  });

  it('reports a document without a usable name and loads the others', async () => {
    const noName = 'apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata: {}\nspec:\n  prompt: x\n';
    await put('a.yaml', `${noName}---\n${run('Bad_Name')}---\n${run('fine')}---\n${run('fine')}`);
    await put('b.yaml', run('other'));
    const store = await openStore();
    expect(await names(store)).toEqual(['default/fine', 'default/other']);
    const problems = problemsOf(store, 'a.yaml');
    expect(problems.map((p) => p.document)).toEqual([1, 2, 4]);
    expect(problems.every((p) => p.skipped === undefined)).toBe(true);
    expect(problems[0]?.error).toContain('metadata.name');
    expect(logLines.filter((l) => l.level === 'warn' && l.msg === 'manifest problem')).toHaveLength(3);
  });

  it('reports a YAML syntax error without touching other runs, keeps the last good spec, and clears once fixed', async () => {
    await put('a.yaml', run('a'));
    await put('b.yaml', run('b'));
    const store = await openStore();
    const before = await store.get(ref('a'));
    await put('a.yaml', `${run('a', 'prompt: changed')}  oops: [unclosed\n`);
    await expect.poll(() => problemsOf(store, 'a.yaml').map((p) => p.error.split(':')[0])).toEqual(['YAML error in document 1']);
    expect(await store.get(ref('a'))).toEqual(before);
    expect(await names(store)).toEqual(['default/a', 'default/b']);
    // A restart while the file is still broken keeps the run too.
    const restarted = await reopen(store);
    expect((await restarted.get(ref('a'))).metadata.uid).toBe(before.metadata.uid);
    expect(problemsOf(restarted, 'a.yaml')).toHaveLength(1);
    await put('a.yaml', run('a', 'prompt: changed'));
    await expect.poll(async () => (await restarted.get(ref('a'))).spec).toEqual({ prompt: 'changed' });
    expect(restarted.problems()).toEqual([]);
  });

  it('reports a file over maxFileBytes without reading it', async () => {
    await put('big.yaml', run('big', `prompt: ${'x'.repeat(500)}`));
    await put('small.yaml', run('small'));
    const store = await openStore({ maxFileBytes: 300 });
    expect(await names(store)).toEqual(['default/small']);
    expect(problemsOf(store, 'big.yaml')[0]?.error).toMatch(/over the 300-byte limit/);
  });

  it('refuses an alias bomb', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const bomb = run('bomb', levels.join('\n'));
    await put('bomb.yaml', bomb);
    await put('ok.yaml', run('ok'));
    const store = await openStore();
    expect(await names(store)).toEqual(['default/ok']);
    expect(problemsOf(store, 'bomb.yaml')).toHaveLength(1);
  });

  it('refuses a document that expands past the size cap through a few aliases', async () => {
    const big = 'x'.repeat(200);
    await put('wide.yaml', run('wide', `a: &a "${big}"\nb: [*a, *a, *a, *a, *a, *a, *a, *a]`));
    const store = await openStore({ maxFileBytes: 400 });
    expect(await names(store)).toEqual([]);
    expect(problemsOf(store, 'wide.yaml')[0]?.error).toMatch(/expands to more than 1600 bytes/);
  });

  it('gives a name declared in two files to the first, reports the second, and hands over with the same uid', async () => {
    await put('a.yaml', run('same', 'prompt: from a'));
    await put('b.yaml', run('same', 'prompt: from b'));
    const store = await openStore();
    const first = await store.get(ref('same'));
    expect(first.spec).toEqual({ prompt: 'from a' });
    expect(problemsOf(store, 'b.yaml')[0]?.error).toContain(`also declared in ${join(runsDir, 'a.yaml')}`);
    await rm(join(runsDir, 'a.yaml'));
    await expect.poll(async () => (await store.get(ref('same'))).spec).toEqual({ prompt: 'from b' });
    const after = await store.get(ref('same'));
    expect(after.metadata.uid).toBe(first.metadata.uid);
    expect(after.metadata.generation).toBe(2);
    expect(store.problems()).toEqual([]);
  });

  it('bumps generation for a spec change, not for comments, key order or labels', async () => {
    await put('a.yaml', run('a', 'prompt: hi\npriority: 1'));
    const store = await openStore();
    const created = await store.get(ref('a'));
    await put('a.yaml', `# a comment\n${run('a', 'priority: 1   # same\nprompt: hi', '  labels:\n    team: x\n')}`);
    await expect.poll(async () => (await store.get(ref('a'))).metadata.labels).toEqual({ team: 'x' });
    const relabelled = await store.get(ref('a'));
    expect(relabelled.metadata.generation).toBe(1);
    expect(relabelled.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
    await put('a.yaml', run('a', 'prompt: hi\npriority: 2'));
    await expect.poll(async () => (await store.get(ref('a'))).metadata.generation).toBe(2);
    expect((await store.get(ref('a'))).metadata.labels).toBeUndefined();
  });

  it('adds runs for new files and deletes the run of a removed file without finalizers', async () => {
    const store = await openStore();
    const watch = record(store);
    await put('a.yaml', run('a'));
    await expect.poll(watch.summary).toEqual(['ADDED a']);
    await rm(join(runsDir, 'a.yaml'));
    await expect.poll(watch.summary).toEqual(['ADDED a', 'DELETED a']);
    expect(await names(store)).toEqual([]);
    expect((await journalEntries()).at(-1)).toMatchObject({ delete: { namespace: 'default', name: 'a' } });
    expect(await names(await reopen(store))).toEqual([]);
  });

  it('keeps the run of a removed file while finalizers remain, still writing its status', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const created = await store.get(ref('a'));
    await store.setFinalizers(ref('a'), ['stromboli.dev/cleanup'], created.metadata.resourceVersion);
    const watch = record(store);
    await rm(join(runsDir, 'a.yaml'));
    await expect.poll(async () => (await store.get(ref('a'))).metadata.deletionTimestamp).toBeDefined();
    const deleting = await store.get(ref('a'));
    expect(await names(store)).toEqual(['default/a']);
    const final = await store.updateStatus(ref('a'), { phase: 'Cancelled' }, deleting.metadata.resourceVersion);
    expect(await store.setFinalizers(ref('a'), [], final.metadata.resourceVersion)).toBeUndefined();
    // deletionTimestamp, status, then the removal of the last finalizer: DELETED only, as the API server sends it.
    await expect.poll(watch.summary).toEqual(['ADDED a', 'MODIFIED a', 'MODIFIED a', 'DELETED a']);
    expect(await tryGet(store, 'a')).toBeUndefined();
  });

  it('turns a file removed while the store was down into a deletion on open', async () => {
    await put('plain.yaml', run('plain'));
    await put('held.yaml', run('held'));
    const store = await openStore();
    const held = await store.get(ref('held'));
    await store.setFinalizers(ref('held'), ['stromboli.dev/cleanup'], held.metadata.resourceVersion);
    await store.close();
    await rm(join(runsDir, 'plain.yaml'));
    await rm(join(runsDir, 'held.yaml'));
    const restarted = await openStore();
    expect(await names(restarted)).toEqual(['default/held']);
    const deleting = await restarted.get(ref('held'));
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    expect(deleting.metadata.uid).toBe(held.metadata.uid);
    await restarted.setFinalizers(ref('held'), [], deleting.metadata.resourceVersion);
    expect(await names(restarted)).toEqual([]);
  });

  it('keeps uid, generation, status and finalizers across a restart, and never reuses a resourceVersion', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const created = await store.get(ref('a'));
    const patched = await store.patchSpec(ref('a'), { priority: 5 });
    const withStatus = await store.updateStatus(ref('a'), { phase: 'Running', observedGeneration: 2 }, patched.metadata.resourceVersion);
    const held = await store.setFinalizers(ref('a'), ['stromboli.dev/cleanup'], withStatus.metadata.resourceVersion);
    const restarted = await reopen(store);
    const again = await restarted.get(ref('a'));
    expect(again).toEqual(held);
    expect(again.metadata).toMatchObject({ uid: created.metadata.uid, generation: 2 });
    const next = await restarted.updateStatus(ref('a'), { phase: 'Succeeded' }, again.metadata.resourceVersion);
    expect(Number(next.metadata.resourceVersion)).toBeGreaterThan(Number(again.metadata.resourceVersion));
  });

  it('writes status, finalizers, patches and API runs only under stateDir, never into runsDir', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const before = await snapshot(runsDir);
    const a = await store.get(ref('a'));
    const patched = await store.patchSpec(ref('a'), { cancel: true });
    const status = await store.updateStatus(ref('a'), { phase: 'Running' }, patched.metadata.resourceVersion);
    await store.setFinalizers(ref('a'), ['stromboli.dev/cleanup'], status.metadata.resourceVersion);
    await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'api' }, spec: { prompt: 'x' } });
    expect(await snapshot(runsDir)).toEqual(before);
    expect((await readdir(stateDir)).sort()).toEqual(['journal-1.jsonl', 'lock.pid', 'tmp']);
    expect(await readdir(join(stateDir, 'tmp'))).toEqual([]);
    const puts = (await journalEntries()).flatMap((e) => (e.put === undefined ? [] : [e.put]));
    expect(new Set(puts.map((p) => p.object.metadata.name))).toEqual(new Set(['a', 'api']));
    expect(puts.findLast((p) => p.object.metadata.name === 'a' && p.object.status !== undefined)).toMatchObject({ manifest: 'a.yaml', object: { metadata: { uid: a.metadata.uid }, status: { phase: 'Running' } } });
  });

  it('emits MODIFIED for a status write and nothing more: its own writes do not come back through the watch', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const watch = record(store);
    const a = await store.get(ref('a'));
    await store.updateStatus(ref('a'), { phase: 'Running' }, a.metadata.resourceVersion);
    await put('b.yaml', run('b')); // a later file event marks the end of what the write could have caused
    await expect.poll(watch.summary).toEqual(['ADDED a', 'MODIFIED a', 'ADDED b']);
    expect(watch.events[1]?.object.status).toEqual({ phase: 'Running' });
  });

  it('refuses a second store on the same state directory, and opens again after close', async () => {
    const store = await openStore();
    const err: unknown = await FileStore.open({ runsDir, stateDir }).catch((e: unknown) => e);
    expect(isAppError(err) ? err.code : err).toBe('UNAVAILABLE');
    expect(err instanceof Error ? err.message : '').toContain(`in use by process ${process.pid}`);
    const again = await reopen(store);
    expect(await again.list()).toEqual([]);
    expect((await readFile(join(stateDir, 'lock.pid'), 'utf8')).trim()).toBe(String(process.pid));
  });

  it('takes over a lock left by a process that is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'lock.pid'), `${dead}\n`);
    await openStore();
    expect((await readFile(join(stateDir, 'lock.pid'), 'utf8')).trim()).toBe(String(process.pid));
  });

  it('releases the lock on close', async () => {
    const store = await openStore();
    await store.close();
    await expect(readFile(join(stateDir, 'lock.pid'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps API-created runs in stateDir\'s journal across restarts, and deletes them', async () => {
    const store = await openStore();
    const created = await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { generateName: 'job-', namespace: 'team-a' }, spec: { prompt: 'x' } });
    const name = created.metadata.name;
    expect(await journalEntries()).toEqual([{ rv: Number(created.metadata.resourceVersion), put: { object: created } }]);
    const restarted = await reopen(store);
    expect(await restarted.get(ref(name, 'team-a'))).toEqual(created);
    await restarted.delete(ref(name, 'team-a'));
    expect(await names(restarted)).toEqual([]);
    const again = await reopen(restarted);
    expect(await names(again)).toEqual([]);
  });

  it('refuses create() for another kind', async () => {
    const store = await openStore();
    expect(await errorCode(store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, spec: {} }))).toBe('VALIDATION');
  });

  it('refuses to delete a manifest run, naming the file to remove', async () => {
    await put('sub/x.yaml', run('x'));
    const store = await openStore();
    const err: unknown = await store.delete(ref('x')).catch((e: unknown) => e);
    expect(isAppError(err) ? err.code : err).toBe('FORBIDDEN');
    expect(err instanceof Error ? err.message : '').toBe(`remove the file ${join(runsDir, 'sub/x.yaml')} to delete this run`);
    expect(await names(store)).toEqual(['default/x']);
  });

  it('keeps a spec patch of a manifest run across restarts until the file spec changes', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const patched = await store.patchSpec(ref('a'), { cancel: true });
    expect(patched.spec).toEqual({ prompt: 'hi', cancel: true });
    expect(patched.metadata.generation).toBe(2);
    expect(await readFile(join(runsDir, 'a.yaml'), 'utf8')).toBe(run('a'));
    const restarted = await reopen(store);
    expect((await restarted.get(ref('a'))).spec).toEqual({ prompt: 'hi', cancel: true });
    await put('a.yaml', run('a', 'prompt: edited'));
    await expect.poll(async () => (await restarted.get(ref('a'))).spec).toEqual({ prompt: 'edited' });
    expect((await restarted.get(ref('a'))).metadata.generation).toBe(3);
  });

  it('keeps the run (same uid, no DELETED) when its manifest is renamed', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const before = await store.get(ref('a'));
    const watch = record(store);
    await rename(join(runsDir, 'a.yaml'), join(runsDir, 'renamed.yaml'));
    await expect.poll(async () => {
      const err: unknown = await store.delete(ref('a')).catch((e: unknown) => e);
      return err instanceof Error ? err.message : '';
    }).toContain('renamed.yaml');
    expect((await store.get(ref('a'))).metadata.uid).toBe(before.metadata.uid);
    expect(watch.summary()).toEqual(['ADDED a']);
  });

  it('makes a re-added manifest wait while the old run is being deleted, then creates a new run', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const first = await store.get(ref('a'));
    await store.setFinalizers(ref('a'), ['stromboli.dev/cleanup'], first.metadata.resourceVersion);
    await rm(join(runsDir, 'a.yaml'));
    await expect.poll(async () => (await store.get(ref('a'))).metadata.deletionTimestamp).toBeDefined();
    await put('a.yaml', run('a', 'prompt: again'));
    await expect.poll(() => problemsOf(store, 'a.yaml').map((p) => p.error)).toEqual([expect.stringContaining('being deleted')]);
    const deleting = await store.get(ref('a'));
    await store.setFinalizers(ref('a'), [], deleting.metadata.resourceVersion);
    const second = await store.get(ref('a'));
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    expect(second.spec).toEqual({ prompt: 'again' });
    expect(store.problems()).toEqual([]);
  });

  it('reports a manifest whose name an API-created run already holds, and leaves that run alone', async () => {
    const store = await openStore();
    const created = await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'taken' }, spec: { prompt: 'api' } });
    await put('taken.yaml', run('taken', 'prompt: file'));
    await expect.poll(() => problemsOf(store, 'taken.yaml').map((p) => p.error)).toEqual([expect.stringContaining('created through the API')]);
    expect(await store.get(ref('taken'))).toEqual(created);
  });

  it('does not report a file caught half-written', async () => {
    const store = await openStore();
    const handle = await open(join(runsDir, 'slow.yaml'), 'w');
    await handle.write('apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: "slo');
    await handle.sync();
    await handle.write('w"\nspec:\n  prompt: hi\n');
    await handle.close();
    await expect.poll(() => tryGet(store, 'slow')).toBeDefined();
    expect(logLines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(store.problems()).toEqual([]);
  });

  it('reads a file written in two steps at once, without waiting for a settle, and ends with its final spec and the same run', async () => {
    await put('a.yaml', run('a', 'prompt: one'));
    const store = await openStore({ settleMs: 60_000 }); // nothing below may wait for the settle
    const before = await store.get(ref('a'));
    const watch = record(store);
    const handle = await open(join(runsDir, 'a.yaml'), 'w'); // truncates: the run is not declared at all for a moment
    await handle.write('apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\n');
    await handle.sync();
    await expect.poll(() => logLines.filter((l) => l.msg === 'manifest batch read').length).toBeGreaterThan(0);
    await handle.write('metadata:\n  name: a\nspec:\n  prompt: two\n');
    await handle.close();
    await expect.poll(async () => (await store.get(ref('a'))).spec, { timeout: 5000 }).toEqual({ prompt: 'two' });
    expect((await store.get(ref('a'))).metadata.uid).toBe(before.metadata.uid);
    expect(watch.summary()).not.toContain('DELETED a');
    expect(store.problems()).toEqual([]);
  });

  it('writes creates that arrive together as one group (one round of fsyncs), each durable once acknowledged', async () => {
    const store = await openStore();
    const before = store.commits;
    const names = ['g1', 'g2', 'g3', 'g4', 'g5'];
    const created = await Promise.all(names.map((name) => store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name }, spec: { prompt: name } })));
    expect(store.commits - before).toBe(1);
    const entries = await journalEntries();
    for (const object of created) {
      const stored = entries.find((e) => e.put?.object.metadata.name === object.metadata.name);
      expect(stored).toMatchObject({ rv: Number(object.metadata.resourceVersion), put: { object: { metadata: { uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion } } } });
    }
    expect(new Set(created.map((o) => o.metadata.resourceVersion)).size).toBe(names.length);
    const restarted = await reopen(store);
    expect((await restarted.list()).map((o) => o.metadata.uid)).toEqual(created.map((o) => o.metadata.uid));
  });

  it('checks a write against the writes still on their way to disk, and shows none before it is durable', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const a = await store.get(ref('a'));
    const first = store.updateStatus(ref('a'), { phase: 'Running' }, a.metadata.resourceVersion);
    const second = store.updateStatus(ref('a'), { phase: 'Failed' }, a.metadata.resourceVersion);
    expect((await store.get(ref('a'))).status).toBeUndefined();
    expect(await errorCode(second)).toBe('CONFLICT');
    const written = await first;
    expect(written.status).toEqual({ phase: 'Running' });
    expect(await store.get(ref('a'))).toEqual(written);
    const next = await store.updateStatus(ref('a'), { phase: 'Succeeded' }, written.metadata.resourceVersion);
    expect(Number(next.metadata.resourceVersion)).toBeGreaterThan(Number(written.metadata.resourceVersion));
  });

  it('loads many manifests in a few groups of writes, and a restart over the same files writes nothing', async () => {
    const count = 300;
    for (let i = 0; i < count; i += 10) {
      const docs = Array.from({ length: 10 }, (_, j) => run(`many-${i + j}`, `prompt: run ${i + j}\nsuspend: true`));
      await put(`batch-${i / 10}/runs.yaml`, docs.join('---\n'));
    }
    const store = await openStore();
    const listed = await store.list();
    expect(listed).toHaveLength(count);
    expect(listed.every((o) => o.metadata.generation === 1)).toBe(true);
    expect((await store.get(ref('many-123'))).spec).toEqual({ prompt: 'run 123', suspend: true });
    expect(store.commits).toBeLessThanOrEqual(2);
    expect(new Set(listed.map((o) => o.metadata.resourceVersion)).size).toBe(count);
    const restarted = await reopen(store);
    expect(await restarted.list()).toEqual(listed);
    expect(restarted.commits).toBe(0);
    expect(restarted.problems()).toEqual([]);
  });

  it('drops a stored status that parseStatus rejects, keeping the run', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const a = await store.get(ref('a'));
    await store.updateStatus(ref('a'), { phase: 'Running' }, a.metadata.resourceVersion);
    const strict = await reopen(store, {
      parseStatus: () => {
        throw new Error('old status format');
      },
    });
    const again = await strict.get(ref('a'));
    expect(again.status).toBeUndefined();
    expect(again.metadata.uid).toBe(a.metadata.uid);
    expect(logLines.some((l) => l.msg === 'stored status rejected; dropped')).toBe(true);
  });

  it('reports an unreadable state record and goes on', async () => {
    await mkdir(join(stateDir, 'resources', 'default'), { recursive: true });
    await writeFile(join(stateDir, 'resources', 'default', 'broken.json'), '{ not json');
    await put('a.yaml', run('a'));
    const store = await openStore();
    expect(await names(store)).toEqual(['default/a']);
    expect(store.problems().map((p) => p.path)).toEqual([join(stateDir, 'resources', 'default', 'broken.json')]);
  });

  it('ends every watch on close', async () => {
    await put('a.yaml', run('a'));
    const store = await openStore();
    const seen: string[] = [];
    const done = (async () => {
      for await (const event of store.watch(new AbortController().signal)) seen.push(event.type);
    })();
    await expect.poll(() => seen).toEqual(['ADDED']);
    await store.close();
    await done;
    expect(await errorCode(store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'b' }, spec: {} }))).toBe('UNAVAILABLE');
  });

  describe('the state journal', () => {
    const journal = (generation: number) => join(stateDir, `journal-${generation}.jsonl`);
    const newRun = (name: string, namespace = 'default') => ({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name, namespace }, spec: { prompt: name } });

    it('drops a torn last line (a crash mid-append) without a problem, and truncates it before the next append', async () => {
      const store = await openStore();
      const a = await store.create(newRun('a'));
      await store.close();
      await appendFile(journal(1), '{"rv":99,"put":{"manifest":"x.yaml","obj');
      const restarted = await openStore();
      expect(await restarted.get(ref('a'))).toEqual(a);
      expect(restarted.problems()).toEqual([]);
      expect(logLines.some((l) => l.level === 'debug' && l.msg === 'torn journal tail dropped')).toBe(true);
      const b = await restarted.create(newRun('b'));
      expect(Number(b.metadata.resourceVersion)).toBe(Number(a.metadata.resourceVersion) + 1);
      const text = await readFile(journal(1), 'utf8');
      expect(text).not.toContain('"obj\n');
      expect(text.split('\n').filter((l) => l !== '')).toHaveLength(2);
      const again = await reopen(restarted);
      expect(await names(again)).toEqual(['default/a', 'default/b']);
      expect(again.problems()).toEqual([]);
    });

    it('reports a corrupt line in the middle of the journal, skips it and keeps the others', async () => {
      const store = await openStore();
      for (const name of ['a', 'b', 'c']) await store.create(newRun(name));
      await store.close();
      const lines = (await readFile(journal(1), 'utf8')).split('\n');
      lines[1] = '{"rv": 2, "put": {"object": "not a record"}}';
      lines.splice(2, 0, 'garbage that is not JSON');
      await writeFile(journal(1), lines.join('\n'));
      const restarted = await openStore();
      expect(await names(restarted)).toEqual(['default/a', 'default/c']);
      expect(restarted.problems().map((p) => [p.path, p.error.split(':')[0]])).toEqual([
        [journal(1), 'line 2'],
        [journal(1), 'line 3'],
      ]);
    });

    it('keeps every run, status, finalizer, overlay and uid through compactions, and replays only the journal after the snapshot', async () => {
      await put('a.yaml', run('a'));
      await put('held.yaml', run('held'));
      const store = await openStore({ compactAfterBytes: 2000 });
      const a = await store.get(ref('a'));
      const patched = await store.patchSpec(ref('a'), { cancel: true });
      await store.updateStatus(ref('a'), { phase: 'Running' }, patched.metadata.resourceVersion);
      const held = await store.get(ref('held'));
      await store.setFinalizers(ref('held'), ['stromboli.dev/cleanup'], held.metadata.resourceVersion);
      await rm(join(runsDir, 'held.yaml'));
      await expect.poll(async () => (await store.get(ref('held'))).metadata.deletionTimestamp).toBeDefined();
      // Concurrent creates and deletes across several automatic compactions (each time the journal passes 2000 bytes).
      await Promise.all(Array.from({ length: 60 }, (_, i) => store.create(newRun(`api-${i}`, 'team-a'))));
      for (let i = 0; i < 60; i += 3) await store.delete(ref(`api-${i}`, 'team-a'));
      await store.compact();
      const last = await store.create(newRun('last'));
      const listed = await store.list();
      expect(listed).toHaveLength(2 + 40 + 1);
      const restarted = await reopen(store);
      expect(await restarted.list()).toEqual(listed);
      expect(restarted.commits).toBe(0);
      expect(restarted.problems()).toEqual([]);
      expect((await restarted.get(ref('a'))).metadata).toMatchObject({ uid: a.metadata.uid, generation: 2 });
      expect((await restarted.get(ref('a'))).spec).toEqual({ prompt: 'hi', cancel: true });
      expect((await readdir(stateDir)).filter((f) => f.startsWith('journal-'))).toHaveLength(1);
      const header: unknown = JSON.parse((await readFile(join(stateDir, 'snapshot.jsonl'), 'utf8')).split('\n')[0] ?? '');
      expect(header).toMatchObject({ format: 2, records: 42 });
      const next = await restarted.create(newRun('after'));
      expect(Number(next.metadata.resourceVersion)).toBeGreaterThan(Number(last.metadata.resourceVersion));
    });

    it('ignores a stale journal left beside a newer snapshot (a crash after the snapshot\'s rename), and removes it', async () => {
      const store = await openStore();
      const a = await store.create(newRun('a'));
      await store.create(newRun('gone'));
      const running = await store.updateStatus(ref('a'), { phase: 'Running' }, a.metadata.resourceVersion);
      await store.delete(ref('gone'));
      await copyFile(journal(1), join(root, 'stale.jsonl'));
      await store.compact(); // snapshot naming journal 2; journal 1 removed
      await store.updateStatus(ref('a'), { phase: 'Succeeded' }, running.metadata.resourceVersion);
      await store.close();
      await writeFile(join(stateDir, 'journal-1.jsonl'), `${await readFile(join(root, 'stale.jsonl'), 'utf8')}{"rv":3,"put":${JSON.stringify({ object: { ...a, metadata: { ...a.metadata, name: 'ghost', uid: 'x' } } })}}\n`);
      const restarted = await openStore();
      expect(await names(restarted)).toEqual(['default/a']);
      expect((await restarted.get(ref('a'))).status).toEqual({ phase: 'Succeeded' });
      expect(await readdir(stateDir)).not.toContain('journal-1.jsonl');
      expect(restarted.problems()).toEqual([]);
    });

    it('replays the old snapshot and every journal since it when the crash came before the new snapshot\'s rename', async () => {
      const store = await openStore();
      const a = await store.create(newRun('a'));
      await store.compact(); // snapshot naming journal 2
      const running = await store.updateStatus(ref('a'), { phase: 'Running' }, a.metadata.resourceVersion);
      const b = await store.create(newRun('b'));
      await copyFile(join(stateDir, 'snapshot.jsonl'), join(root, 'old-snapshot.jsonl'));
      await copyFile(journal(2), join(root, 'journal-2.jsonl'));
      await store.compact(); // snapshot naming journal 3; journal 2 removed
      const done = await store.updateStatus(ref('a'), { phase: 'Succeeded' }, running.metadata.resourceVersion);
      await store.close();
      // As the disk would be had the second compaction crashed after switching to journal 3, before its snapshot's rename.
      await copyFile(join(root, 'old-snapshot.jsonl'), join(stateDir, 'snapshot.jsonl'));
      await copyFile(join(root, 'journal-2.jsonl'), journal(2));
      await writeFile(join(stateDir, 'tmp', 'half-written.tmp'), '{"format":2');
      const restarted = await openStore();
      expect(await restarted.get(ref('a'))).toEqual(done);
      expect(await restarted.get(ref('b'))).toEqual(b);
      expect(await readdir(join(stateDir, 'tmp'))).toEqual([]);
      expect(restarted.problems()).toEqual([]);
      const c = await restarted.create(newRun('c'));
      expect(Number(c.metadata.resourceVersion)).toBeGreaterThan(Number(done.metadata.resourceVersion));
      expect(await names(await reopen(restarted))).toEqual(['default/a', 'default/b', 'default/c']);
    });

    it('reports an unreadable snapshot, keeps it aside, and replays the journals', async () => {
      const store = await openStore();
      await store.create(newRun('a'));
      await store.compact();
      await store.create(newRun('b'));
      await store.close();
      await writeFile(join(stateDir, 'snapshot.jsonl'), 'not a snapshot\n');
      const restarted = await openStore();
      expect(await names(restarted)).toEqual(['default/b']);
      expect(restarted.problems()).toEqual([{ path: join(stateDir, 'snapshot.jsonl'), error: expect.stringContaining('unreadable snapshot') }]);
      expect((await readdir(stateDir)).some((f) => f.startsWith('snapshot.jsonl.unreadable-'))).toBe(true);
    });

    it('never hands out a resourceVersion again after the newest write was a delete, across restarts and compactions', async () => {
      const store = await openStore();
      await store.create(newRun('x'));
      await store.delete(ref('x'));
      const deletedAt = Number((await journalEntries()).at(-1)?.rv);
      const restarted = await reopen(store);
      const y = await restarted.create(newRun('y'));
      expect(Number(y.metadata.resourceVersion)).toBe(deletedAt + 1);
      await restarted.delete(ref('y'));
      await restarted.compact();
      const again = await reopen(restarted);
      const z = await again.create(newRun('z'));
      expect(Number(z.metadata.resourceVersion)).toBe(deletedAt + 3);
    });

    it('fails a write whose append fails, refuses the write built on it, and takes writes again afterwards', async () => {
      const store = await openStore();
      const a = await store.create(newRun('a'));
      await store.compact(); // the next append opens journal 2: a directory in its way makes it fail
      await mkdir(journal(2));
      const first = store.updateStatus(ref('a'), { phase: 'Running' }, a.metadata.resourceVersion);
      await Promise.resolve();
      await Promise.resolve();
      const second = store.updateStatus(ref('a'), { phase: 'Failed' }, String(Number(a.metadata.resourceVersion) + 1));
      expect(await errorCode(second)).toBe('CONFLICT');
      await expect(first).rejects.toMatchObject({ code: 'EISDIR' });
      expect(await store.get(ref('a'))).toEqual(a);
      await rmdir(journal(2));
      const written = await store.updateStatus(ref('a'), { phase: 'Succeeded' }, a.metadata.resourceVersion);
      expect((await (await reopen(store)).get(ref('a'))).status).toEqual(written.status);
    });

    it('migrates a state directory of the first format (record files and store.json) with the same uids, generations, statuses and resourceVersions', async () => {
      await put('a.yaml', run('a'));
      const meta = (name: string, extra: Record<string, unknown>) => ({ name, namespace: 'default', uid: `uid-${name}`, generation: 3, resourceVersion: '17', creationTimestamp: '2026-12-01T10:00:00Z', ...extra });
      const fromFile = { format: 1, manifest: 'a.yaml', manifestSpecHash: canonicalHash({ prompt: 'hi' }), object: { apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: meta('a', {}), spec: { prompt: 'hi', cancel: true }, status: { phase: 'Running', observedGeneration: 3 } } };
      const fromApi = { format: 1, object: { apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: meta('job-1', { namespace: 'team-a', generation: 1, resourceVersion: '42', finalizers: ['stromboli.dev/cleanup'] }), spec: { prompt: 'x' } } };
      await mkdir(join(stateDir, 'resources', 'default'), { recursive: true, mode: 0o700 });
      await mkdir(join(stateDir, 'resources', 'team-a'), { mode: 0o700 });
      await writeFile(join(stateDir, 'store.json'), '{"format":1,"resourceVersionReserved":1042}\n');
      await writeFile(join(stateDir, 'resources', 'default', 'a.json'), JSON.stringify(fromFile, null, 2));
      await writeFile(join(stateDir, 'resources', 'team-a', 'job-1.json'), JSON.stringify(fromApi, null, 2));
      const store = await openStore();
      expect(await store.list()).toEqual([fromFile.object, fromApi.object]);
      expect(store.problems()).toEqual([]);
      // journal-1: the manifest's run now remembers its file's hash (docs/file-store.md, "Manifests"), one write at this first open.
      expect((await readdir(stateDir)).sort()).toEqual(['journal-1.jsonl', 'lock.pid', 'snapshot.jsonl', 'tmp']);
      expect((await stat(join(stateDir, 'snapshot.jsonl'))).mode & 0o777).toBe(0o600);
      const next = await store.updateStatus(ref('a'), { phase: 'Succeeded' }, '17');
      expect(Number(next.metadata.resourceVersion)).toBe(1043); // continues after the block store.json had reserved
      const restarted = await reopen(store);
      expect(restarted.commits).toBe(0);
      expect(await restarted.get(ref('a'))).toEqual(next);
      expect((await restarted.get(ref('job-1', 'team-a'))).metadata.finalizers).toEqual(['stromboli.dev/cleanup']);
    });

    it('does not parse again, on open, a manifest whose bytes are those of its last clean read', async () => {
      await put('a.yaml', run('a'));
      await put('b.yaml', `${run('b1')}---\n${run('b2')}`);
      await put('patched.yaml', run('patched'));
      await put('odd.yaml', `${run('odd')}---\nkind: ConfigMap\n`); // a skipped document is a problem: always parsed
      const store = await openStore();
      const patched = await store.get(ref('patched'));
      await store.patchSpec(ref('patched'), { cancel: true }); // the record no longer holds the file's spec: parsed
      const listed = await store.list();
      await store.close();
      const before = yamlParses();
      const restarted = await openStore();
      expect(yamlParses() - before).toBe(2); // patched.yaml and odd.yaml
      expect(await restarted.list()).toEqual(listed);
      expect(restarted.commits).toBe(0);
      expect(problemsOf(restarted, 'odd.yaml')).toHaveLength(1);
      expect((await restarted.get(ref('patched'))).metadata.uid).toBe(patched.metadata.uid);
    });

    it('reads a manifest again whose size and mtime were kept but whose bytes changed, and when the parse settings change', async () => {
      await put('a.yaml', run('a', 'prompt: aa'));
      const store = await openStore();
      const before = await store.get(ref('a'));
      await store.close();
      const { mtime, atime } = await stat(join(runsDir, 'a.yaml'));
      await put('a.yaml', run('a', 'prompt: bb'));
      await utimes(join(runsDir, 'a.yaml'), atime, mtime); // as an editor or rsync that keeps the mtime would leave it
      const restarted = await openStore();
      expect((await restarted.get(ref('a'))).spec).toEqual({ prompt: 'bb' });
      expect((await restarted.get(ref('a'))).metadata).toMatchObject({ uid: before.metadata.uid, generation: 2 });
      await restarted.close();
      const elsewhere = await openStore({ defaultNamespace: 'team-b' });
      expect(await names(elsewhere)).toEqual(['team-b/a']);
    });

    it('keeps the state files private: stateDir 0700, snapshot and journal 0600', async () => {
      const store = await openStore();
      await store.create(newRun('a'));
      await store.compact();
      await store.create(newRun('b'));
      expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
      for (const file of ['snapshot.jsonl', 'journal-2.jsonl']) expect((await stat(join(stateDir, file))).mode & 0o777).toBe(0o600);
    });

    it('keeps every acknowledged create of a process killed with SIGKILL mid-burst', async () => {
      const writer = join(import.meta.dirname, '../../../test/helpers/file-store-writer.ts');
      const child = spawn(process.execPath, [writer, runsDir, stateDir, '10', '20000'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const acknowledged: string[] = [];
      let buffered = '';
      const exited = new Promise<NodeJS.Signals | null>((done) => child.once('exit', (_code, signal) => done(signal)));
      await new Promise<void>((enough, failed) => {
        child.once('exit', () => failed(new Error('the writer ended before it was killed')));
        child.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          acknowledged.push(...lines.filter((l) => l.startsWith('burst-')));
          if (acknowledged.length >= 400) enough();
        });
      });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      acknowledged.push(...buffered.split('\n').filter((l) => l.startsWith('burst-') && l.length > 6)); // whole lines only
      const store = await openStore();
      const present = new Set((await store.list()).map((o) => o.metadata.name));
      expect(acknowledged.filter((name) => !present.has(name))).toEqual([]);
      expect(store.problems()).toEqual([]);
    }, 60_000);
  });
});
