// The log endpoint and its reader together, over loopback: what the facade reads is what the
// node's source yields, line for line; a follow ends with the source; a missing token, an
// unreachable agent, a silent agent and a cut stream are UNAVAILABLE errors, quickly.
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import type { StoredRun } from '../../../contract/ports.ts';
import { NodeLogReader } from './client.ts';
import { logUrlOf } from './log-ref.ts';
import { buildNodeLogApp } from './server.ts';
import type { NodeLogSource } from './server.ts';

const TOKEN = 't'.repeat(48);
const identity = { namespace: 'ns', name: 'job-1', uid: 'uid-1' };
const lines: string[] = ['{"type":"system"}', '', 'plain text', '{"type":"result","result":"ok"}'];
let hold: Promise<void> | undefined;

const source: NodeLogSource = {
  async open(run, attempt, options) {
    if (run.uid !== identity.uid || attempt !== 1) return undefined;
    return (async function* () {
      for (const line of lines.slice(options.fromLine ?? 0)) yield line;
      if (options.follow && hold !== undefined) await hold;
    })();
  },
};

let app: Awaited<ReturnType<typeof buildNodeLogApp>>;
let base: string;

function runWith(status: AgentRunStatus | undefined, uid = identity.uid): StoredRun {
  return {
    apiVersion: 'stromboli.dev/v1alpha1',
    kind: 'AgentRun',
    metadata: { namespace: identity.namespace, name: identity.name, uid, resourceVersion: '1', generation: 1, creationTimestamp: new Date(0).toISOString() },
    spec: {},
    ...(status === undefined ? {} : { status }),
  } as StoredRun;
}

async function collect(reader: NodeLogReader, run: StoredRun, options: { follow?: boolean; fromLine?: number } = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const line of reader.lines(run, { follow: options.follow ?? false, signal: new AbortController().signal, ...(options.fromLine === undefined ? {} : { fromLine: options.fromLine }) })) out.push(line);
  return out;
}

beforeAll(async () => {
  app = await buildNodeLogApp({ source, token: TOKEN, heartbeatMs: 50 });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app.close());

describe('the node log endpoint', () => {
  it('answers 401 without the token and 404 for a run it does not know', async () => {
    const url = logUrlOf(base, identity, 1);
    const bare = await app.inject({ url: new URL(url).pathname });
    expect(bare.statusCode).toBe(401);
    expect(bare.headers['www-authenticate']).toBe('Bearer');
    const wrong = await app.inject({ url: new URL(url).pathname, headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    const unknown = await app.inject({ url: new URL(logUrlOf(base, { ...identity, uid: 'other' }, 1)).pathname, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(unknown.statusCode).toBe(404);
  });

  it('serves each line as a JSON string, from fromLine on', async () => {
    const res = await app.inject({ url: `${new URL(logUrlOf(base, identity, 1)).pathname}?fromLine=1`, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(res.body).toBe(`${lines.slice(1).map((l) => JSON.stringify(l)).join('\n')}\n`);
  });
});

describe('NodeLogReader', () => {
  const running = (): AgentRunStatus => ({ phase: 'Running', attempt: 1, node: 'n1', logRef: logUrlOf(base, identity, 1) }) as AgentRunStatus;

  it('reads exactly the lines the node has, empty and plain ones included', async () => {
    const reader = new NodeLogReader({ runs: { get: async () => runWith(running()) }, token: TOKEN });
    expect(await collect(reader, runWith(running()))).toEqual(lines);
    expect(await collect(reader, runWith(running()), { fromLine: 2 })).toEqual(lines.slice(2));
  });

  it('follows across heartbeats until the node ends the log', async () => {
    let release = (): void => undefined;
    hold = new Promise((resolve) => (release = resolve));
    const reader = new NodeLogReader({ runs: { get: async () => runWith(running()) }, token: TOKEN, idleTimeoutMs: 400 });
    const reading = collect(reader, runWith(running()), { follow: true });
    setTimeout(release, 600); // longer than the idle timeout: only the heartbeats keep it alive
    expect(await reading).toEqual(lines);
    hold = undefined;
  });

  it('waits for the agent to record a log, and reads nothing for a run that ended without one', async () => {
    let reads = 0;
    const reader = new NodeLogReader({ runs: { get: async () => (++reads < 3 ? runWith({ phase: 'Pending' } as AgentRunStatus) : runWith(running())) }, token: TOKEN, waitPollMs: 10 });
    expect(await collect(reader, runWith(undefined), { follow: true })).toEqual(lines);
    expect(reads).toBe(3);
    expect(await collect(reader, runWith({ phase: 'Failed' } as AgentRunStatus), { follow: true })).toEqual([]);
  });

  it('fails with UNAVAILABLE for a wrong token, a path logRef, no token, or an agent that is gone', async () => {
    const get = async (): Promise<StoredRun> => runWith(running());
    await expect(collect(new NodeLogReader({ runs: { get }, token: 'x'.repeat(40) }), runWith(running()))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/refused this server's log token \(401\)/) });
    await expect(collect(new NodeLogReader({ runs: { get }, token: undefined }), runWith(running()))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/no --log-token-file/) });
    const local = { ...running(), logRef: '/state/logs/ns/job-1/uid-1/attempt-1.jsonl' };
    await expect(collect(new NodeLogReader({ runs: { get }, token: TOKEN }), runWith(local))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/serves no log endpoint/) });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const gone = { ...running(), logRef: logUrlOf(`http://127.0.0.1:${port}`, identity, 1) };
    await expect(collect(new NodeLogReader({ runs: { get }, token: TOKEN }), runWith(gone))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/node agent of n1 at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/) });
  });

  describe('against an agent that accepts and then says nothing, or stops mid-stream', () => {
    let silent: Server;
    let silentBase: string;
    beforeAll(async () => {
      // The first request gets nothing; the next ones a line, then the connection closes without the last chunk.
      let connections = 0;
      silent = createServer((socket) => {
        const mute = ++connections === 1;
        socket.once('data', () => {
          if (!mute) socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n"a"\n\r\n');
        });
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      silentBase = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise((resolve) => silent.close(resolve)));

    it('gives up after the connect timeout, and on a cut stream', async () => {
      const get = async (): Promise<StoredRun> => runWith(running());
      const started = Date.now();
      const mute = { ...running(), logRef: logUrlOf(silentBase, identity, 1) };
      await expect(collect(new NodeLogReader({ runs: { get }, token: TOKEN, connectTimeoutMs: 200 }), runWith(mute))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/did not answer within 200 ms/) });
      expect(Date.now() - started).toBeLessThan(2_000);
      const cut = mute;
      await expect(collect(new NodeLogReader({ runs: { get }, token: TOKEN }), runWith(cut))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/closed the log stream before its end/) });
    });
  });
});
