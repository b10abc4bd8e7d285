// The embedded server's start order (issue 9, P3): the API answers once the node agent is
// prepared and before its loop starts, and nothing asked in between is lost: a run listed then
// has no phase yet (the truth), a run created then is reconciled once the loop starts.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunStatus } from '../../contract/apis/v1alpha1/index.ts';
import { prepareAuth, startApi } from '../../cmd/api.ts';
import { ServeConfigSchema } from '../../cmd/config.ts';
import { prepareNodeAgent } from '../../cmd/controller.ts';
import { ownerOf } from '../../cmd/serve.ts';
import { createLogger } from '../../controller/src/log.ts';
import { FileStore } from '../../controller/src/store/file/file-store.ts';
import { Cleanup } from '../../controller/test/helpers/cleanup.ts';
import { ensureFakeImage } from '../../controller/test/helpers/podman.ts';
import { FAKE_IMAGE } from '../../controller/test/helpers/repo.ts';
import { createTempDirs } from '../../controller/test/helpers/temp-dirs.ts';

const cleanup = new Cleanup();
const LIST = '/apis/stromboli.dev/v1alpha1/namespaces/default/agentruns';

beforeAll(async () => {
  await ensureFakeImage();
});
afterEach(async () => {
  await cleanup.run();
});

interface Listed {
  items: Array<{ metadata: { name: string }; status?: { phase?: string } }>;
}

describe('stromboli serve start order', () => {
  it('answers before the loop starts, and reconciles what it was asked meanwhile once the loop runs', async () => {
    const dirs = await createTempDirs(cleanup, 'start-order');
    await writeFile(join(dirs.runsDir, 'early.yaml'), 'apiVersion: stromboli.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: early\nspec:\n  prompt: hi\n  suspend: true\n');
    await mkdir(dirs.stateDir, { recursive: true, mode: 0o700 });
    const config = ServeConfigSchema.parse({ runsDir: dirs.runsDir, stateDir: dirs.stateDir, port: 0, image: FAKE_IMAGE, containersConf: process.env.CONTAINERS_CONF });
    const log = createLogger({ level: 'warn' });
    const store = await FileStore.open<AgentRunStatus>({ runsDir: dirs.runsDir, stateDir: dirs.stateDir });
    cleanup.add('close the store', () => store.close());
    const agent = await prepareNodeAgent({ store, config, stateDir: dirs.stateDir, owner: await ownerOf(dirs.stateDir), env: {}, log });
    cleanup.add('close the agent', () => agent.close());
    const auth = await prepareAuth(config, dirs.stateDir, {}, log);
    const agentMetrics = { loop: () => agent.metrics(), runs: () => agent.tally.totals(), observeLoop: (observer: Parameters<typeof agent.observeLoop>[0]) => agent.observeLoop(observer) };
    const api = await startApi({ ports: { runs: store, logs: { async *lines() {} } }, config, auth, agentMetrics, log });
    cleanup.add('close the API', () => api.close());

    const before = (await (await fetch(`${api.url}${LIST}`)).json()) as Listed;
    expect(before.items.map((r) => [r.metadata.name, r.status?.phase])).toEqual([['early', undefined]]);
    const body = { apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'during' }, spec: { prompt: 'hi', suspend: true } };
    const created = await fetch(`${api.url}${LIST}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(created.status).toBe(201);
    expect(agent.metrics().reconciles.success).toBe(0);

    const running = await agent.start();
    expect(await agent.start()).toBe(running); // once
    await expect
      .poll(async () => ((await (await fetch(`${api.url}${LIST}`)).json()) as Listed).items.map((r) => [r.metadata.name, r.status?.phase !== undefined]), { timeout: 30_000, interval: 100 })
      .toEqual([['during', true], ['early', true]]);
  });
});
