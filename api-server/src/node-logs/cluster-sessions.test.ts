import { describe, expect, it } from 'vitest';
import type { StoredRun } from '../../../contract/ports.ts';
import { ClusterSessions } from './cluster-sessions.ts';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

function run(name: string, created: string, sessionId?: string): StoredRun {
  return {
    apiVersion: 'stromboli.dev/v1alpha1',
    kind: 'AgentRun',
    metadata: { namespace: 'ns', name, uid: name, resourceVersion: '1', generation: 1, creationTimestamp: created },
    spec: {},
    ...(sessionId === undefined ? {} : { status: { sessionId } }),
  } as StoredRun;
}

describe('ClusterSessions', () => {
  it('lists the sessions the namespace runs name, newest run first, each once', async () => {
    const runs = [run('a', '2026-01-01T00:00:00Z', A), run('b', '2026-01-03T00:00:00Z', B), run('c', '2026-01-02T00:00:00Z', A), run('d', '2026-01-04T00:00:00Z')];
    let asked: unknown;
    const sessions = new ClusterSessions({ runs: { list: async (options) => ((asked = options), runs) }, namespace: 'ns' });
    expect(await sessions.list()).toEqual([{ id: B, title: '' }, { id: A, title: '' }]);
    expect(asked).toEqual({ namespace: 'ns' });
  });

  it('refuses history and deletion as unavailable (they need the node), and a malformed id as invalid', async () => {
    const sessions = new ClusterSessions({ runs: { list: async () => [] }, namespace: 'ns' });
    await expect(sessions.history(A)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(sessions.remove(A)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(sessions.remove('../x')).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
