// The client commands run as a new Node process each time: they must not load the server.
// Pins issue 9 (P3, `stromboli get` <= 0.5 s): the import path of `get`, and its paging.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../contract/apis/v1alpha1/index.ts';
import { MemoryStore } from '../../contract/store/memory-store.ts';
import { buildApp } from '../../api-server/src/app.ts';
import { main } from '../stromboli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The module URLs a fresh `node` loads for `stromboli <args>` (a resolve hook records them). */
async function modulesLoadedBy(args: string[]): Promise<string[]> {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
    const { main } = await import(${JSON.stringify(new URL('../stromboli.ts', import.meta.url).href)});
    await main(${JSON.stringify(args)}, () => {}).catch(() => {});
    process.stdout.write(JSON.stringify(seen));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((done) => child.once('exit', done));
  return JSON.parse(out) as string[];
}

describe('stromboli get', () => {
  let store: MemoryStore<AgentRunStatus>;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let url: string;

  beforeEach(async () => {
    store = new MemoryStore<AgentRunStatus>();
    for (const name of ['e', 'c', 'a', 'd', 'b']) {
      await store.create({ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name }, spec: { prompt: name } });
    }
    app = await buildApp({ runs: store, logs: { async *lines() {} }, problems: () => [{ path: 'runs/x.yaml', error: 'broken' }] });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await app.close();
  });

  it('loads neither the server, podman code, the YAML library nor any zod schema', async () => {
    const loaded = await modulesLoadedBy(['get', '--server', 'http://127.0.0.1:1']);
    expect(loaded.some((u) => u.endsWith('/cmd/cli/client.ts'))).toBe(true); // it did get that far
    const heavy = loaded.filter((u) => /node_modules\/(zod|fastify|pino|yaml|execa|@kubernetes|chokidar)\/|\/(controller|api-server)\/src\/|\/cmd\/config\.ts$/.test(u));
    expect(heavy).toEqual([]);
  });

  it('prints the table a page at a time (--chunk-size), header once, problems after the last page', async () => {
    const writes: string[] = [];
    await main(['get', '--server', url, '--chunk-size', '2'], (t) => writes.push(t));
    expect(writes).toHaveLength(4); // three pages and the problems
    const lines = writes.join('').trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('NAME'))).toHaveLength(1);
    expect(lines.slice(1, 6).map((l) => l.split(' ')[0])).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(writes.at(-1)).toContain('runs/x.yaml: broken');
    let whole = '';
    await main(['get', '--server', url, '--chunk-size', '0'], (t) => (whole += t));
    expect(whole).toBe(writes.join(''));
  });

  it('prints one JSON list however it was fetched, and refuses a bad --chunk-size with exit code 2', async () => {
    let paged = '';
    let single = '';
    await main(['get', '--server', url, '-o', 'json', '--chunk-size', '2'], (t) => (paged += t));
    await main(['get', '--server', url, '-o', 'json', '--chunk-size', '0'], (t) => (single += t));
    expect(paged).toBe(single);
    expect(JSON.parse(paged)).toMatchObject({ kind: 'AgentRunList', items: { length: 5 }, problems: [{ path: 'runs/x.yaml' }] });
    await expect(main(['get', '--server', url, '--chunk-size', '-1'], () => {})).rejects.toMatchObject({ exitCode: 2 });
  });
});
