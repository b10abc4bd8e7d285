// The runner's REST path, over the fake libpod (FakeApiTransport): create + start, conmon's k8s
// file as the transcript, the died event waking the run, collect reading the whole file.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearSecretValues, registerSecretValue } from '../../../contract/redact.ts';
import { FakeExecutor } from '../exec/fake-executor.ts';
import { PodmanApiClient } from '../podman/api-client.ts';
import { PodmanClient } from '../podman/client.ts';
import { parseDiedEvent } from '../podman/container-events.ts';
import { FakeApiTransport } from '../podman/fake-api-transport.ts';
import { LogStore } from './log-store.ts';
import { tailTranscript } from './log-tail.ts';
import { PodmanAgentRunner } from './podman-runner.ts';
import { SessionDirs } from './session.ts';
import type { StartRequest } from './types.ts';

const IMAGE = 'localhost/stromboli/agent:latest';
const NAME = 'stromboli-demo-abc';
const run = { namespace: 'default', name: 'demo', uid: 'uid-1' };
let dir: string;
let fake: FakeApiTransport;
let executor: FakeExecutor;
let logs: LogStore;
let ended: string[];
let runner: PodmanAgentRunner;

function request(over: Partial<StartRequest> = {}): StartRequest {
  return { run, attempt: 1, containerName: NAME, sessionId: '0b7c6a1e-1111-4222-8333-944455556666', resume: false, spec: { prompt: 'x' }, deadlineSeconds: 60, ...over };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-api-'));
  fake = new FakeApiTransport();
  fake.images.add(IMAGE);
  executor = new FakeExecutor();
  logs = new LogStore({ root: join(dir, 'logs') });
  ended = [];
  runner = new PodmanAgentRunner({
    podman: new PodmanClient({ executor }),
    api: new PodmanApiClient({ transport: fake }),
    logs,
    sessions: new SessionDirs({ root: join(dir, 'sessions') }),
    owner: 'o',
    credentials: [{ secret: 'stromboli-anthropic-api-key', target: 'ANTHROPIC_API_KEY' }],
    onOutputEnd: (r) => ended.push(r.name),
  });
});
afterEach(async () => {
  clearSecretValues();
  await rm(dir, { recursive: true, force: true });
});

describe('PodmanAgentRunner over the REST API', () => {
  it('creates and starts the hardened container with conmon logging to the attempt k8s file; no CLI call, no follower', async () => {
    await runner.start(request());
    const c = fake.containers.get(NAME);
    expect(c?.state).toBe('running');
    expect(c?.body).toMatchObject({
      cap_drop: ['ALL'],
      no_new_privileges: true,
      user: '1000:1000',
      secret_env: { ANTHROPIC_API_KEY: 'stromboli-anthropic-api-key' },
      resource_limits: { pids: { limit: 256 }, memory: { limit: 536870912 } },
      timeout: 90,
      log_configuration: { driver: 'k8s-file', path: logs.k8sPath(run, 1) },
    });
    expect(JSON.stringify(c?.body)).not.toMatch(/ANTHROPIC_API_KEY=/);
    expect(executor.calls).toEqual([]);
  });

  it('is woken by the died event, and collect returns the whole transcript (stdout only, scrubbed) and the stderr tail', async () => {
    const secret = 'sk-ant-test-value-0123456789';
    registerSecretValue(secret);
    await runner.start(request());
    // What conmon writes: the k8s-file records of both streams.
    await writeFile(
      logs.k8sPath(run, 1),
      [
        't stdout F {"type":"system","subtype":"init","session_id":"s"}',
        `t stderr F leaked ${secret}`,
        't stdout P {"type":"result","subtype":"success",',
        '"result":"ok"}'.replace(/^/, 't stdout F '),
        '',
      ].join('\n'),
    );
    const died = parseDiedEvent(JSON.stringify({ Type: 'container', Action: 'died', Actor: { Attributes: { name: NAME, containerExitCode: '0' } } }));
    if (died !== undefined) runner.containerDied(died);
    expect(ended).toEqual(['demo']);
    const record = await runner.collect(run, 1, NAME);
    expect(record.summary.result?.result).toBe('ok');
    expect(record.summary.sessionId).toBe('s');
    expect(record.stderrTail).toBe('leaked ***');
    // No finished attempt keeps a known secret on disk, not even in conmon's raw file.
    expect(await readFile(logs.k8sPath(run, 1), 'utf8')).not.toContain(secret);
    // The jsonl named by status.logRef is exported, and replays read the same lines.
    expect((await readFile(runner.logPath(run, 1), 'utf8')).split('\n').filter(Boolean)).toHaveLength(2);
    const replay: string[] = [];
    for await (const line of tailTranscript({ k8s: logs.k8sPath(run, 1), jsonl: logs.stdoutPath(run, 1) }, { fromLine: 1 })) replay.push(line);
    expect(replay).toEqual(['{"type":"result","subtype":"success","result":"ok"}']);
  });

  it('wakes a container it never followed from its labels, and every watched run after the stream resumes', async () => {
    runner.containerDied({ name: 'other', exitCode: 0, labels: { 'stromboli.dev/namespace': 'default', 'stromboli.dev/name': 'adopted', 'stromboli.dev/uid': 'u2' } });
    await runner.start(request());
    runner.eventsResumed();
    expect(ended).toEqual(['adopted', 'demo']);
  });

  it('fails ImageNotFound without creating anything, and StartFailed (container removed) when podman cannot start it', async () => {
    await expect(runner.start(request({ spec: { prompt: 'x', podman: { image: 'localhost/nope:latest' } } }))).rejects.toMatchObject({ reason: 'ImageNotFound' });
    expect(fake.containers.size).toBe(0);
    fake.failStart.add(NAME);
    await expect(runner.start(request())).rejects.toMatchObject({ reason: 'StartFailed' });
    expect(fake.containers.has(NAME)).toBe(false);
  });

  it('adopts a running container that won the race for the name', async () => {
    await runner.start(request());
    const again = new PodmanAgentRunner({ podman: new PodmanClient({ executor }), api: new PodmanApiClient({ transport: fake }), logs, sessions: new SessionDirs({ root: join(dir, 'sessions') }), owner: 'o' });
    await expect(again.start(request())).resolves.toBeUndefined();
    expect([...fake.containers.keys()]).toEqual([NAME]);
  });

  it('stops, inspects, lists and removes through the API', async () => {
    await runner.start(request());
    expect(await runner.inspect(NAME)).toMatchObject({ running: true, finished: false });
    expect((await runner.listManaged()).map((c) => c.name)).toEqual([NAME]);
    await runner.stop(NAME, 1);
    expect(await runner.inspect(NAME)).toMatchObject({ running: false, finished: true, exitCode: 143 });
    await runner.remove(NAME);
    expect(await runner.inspect(NAME)).toBeUndefined();
    expect(executor.calls).toEqual([]);
  });
});
