// KubeStore against the real kube-apiserver + etcd of the test bed (issue 10): the store
// conformance suite every store passes, scoped to one namespace and over all namespaces, then
// the informer's supervision with real broken connections (a TCP relay in front of the server
// is cut and refuses connections while objects change) and its staleness watchdog.
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStoreConformance } from '../../../contract/store/conformance.ts';
import type { ConformanceStatus } from '../../../contract/store/conformance.ts';
import type { NewResource, ResourceRef, StoreEvent } from '../../../contract/store/store.ts';
import { FakeLogger } from '../../src/reconcile/fake-logger.ts';
import { loadKubeConfig } from '../../src/store/kube/kube-config.ts';
import { KubeStore } from '../../src/store/kube/kube-store.ts';
import type { KubeStoreOptions } from '../../src/store/kube/kube-store-options.ts';
import { REPO_ROOT } from '../../../test-infra/kube/tools.ts';
import { TcpProxy } from './tcp-proxy.ts';
import { kubeTestBed, kubectl, uniqueName } from './test-bed.ts';

const bed = kubeTestBed();
const { kubeConfig } = loadKubeConfig({ kubeconfigPath: bed.kubeconfigPath });
const namespace = uniqueName('kstore');
const POLL = { timeout: 30_000, interval: 50 } as const;
/** Quick restarts, so a broken watch comes back within the poll timeout. */
const FAST: Partial<KubeStoreOptions<ConformanceStatus>> = { watchBackoff: { baseMs: 50, capMs: 200 } };

function storeFor(options: KubeStoreOptions<ConformanceStatus> = {}): KubeStore<ConformanceStatus> {
  return new KubeStore<ConformanceStatus>({ kubeConfig, namespace, ...FAST, ...options });
}

beforeAll(async () => {
  const ns = await kubectl(bed, ['create', 'namespace', namespace]);
  expect(ns.exitCode, ns.stderr).toBe(0);
  const crd = await kubectl(bed, ['apply', '-f', join(REPO_ROOT, 'crds', 'agentrun.yaml')]);
  expect(crd.exitCode, crd.stderr).toBe(0);
  const established = await kubectl(bed, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentruns.stromboli.dev']);
  expect(established.exitCode, established.stderr).toBe(0);
});

afterAll(async () => {
  // No namespace controller runs in the local bed: the namespace stays Terminating; harmless.
  await kubectl(bed, ['delete', 'namespace', namespace, '--wait=false']);
});

describeStoreConformance('kube (one namespace)', () => ({ store: storeFor(), namespace }));
describeStoreConformance('kube (all namespaces)', () => ({ store: new KubeStore<ConformanceStatus>({ kubeConfig, ...FAST }), namespace }));

/** A kubeconfig like the bed's, but reaching the server through `proxy`. */
function throughProxy(proxy: TcpProxy): KubeConfig {
  const cluster = kubeConfig.getCurrentCluster();
  const user = kubeConfig.getCurrentUser();
  if (cluster === null || user === null) throw new Error('the bed kubeconfig has no current cluster or user');
  const proxied = new KubeConfig();
  proxied.loadFromClusterAndUser({ ...cluster, name: `${cluster.name}-proxied`, server: proxy.url }, { ...user, name: `${user.name}-proxied` });
  return proxied;
}

describe('KubeStore watch supervision (real server, broken connections)', () => {
  const direct = storeFor();
  let prefix = '';

  function run(name: string): NewResource {
    return { apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: prefix + name, namespace }, spec: { prompt: `say ${name}` } };
  }
  function ref(name: string): ResourceRef {
    return { namespace, name: prefix + name };
  }
  function record(store: KubeStore<ConformanceStatus>, controller: AbortController): { events: StoreEvent<ConformanceStatus>[]; summary: () => string[] } {
    const events: StoreEvent<ConformanceStatus>[] = [];
    void (async () => {
      for await (const event of store.watch(controller.signal)) {
        if (event.object.metadata.name.startsWith(prefix)) events.push(event);
      }
    })();
    return { events, summary: () => events.map((e) => `${e.type} ${e.object.metadata.name.slice(prefix.length)}`) };
  }

  it('relists after the connection breaks and emits what changed while it was down, then goes on watching', async () => {
    prefix = `sup-${Math.random().toString(36).slice(2, 7)}-`;
    const proxy = await TcpProxy.start(new URL(bed.server));
    const log = new FakeLogger();
    const controller = new AbortController();
    try {
      const watched = storeFor({ kubeConfig: throughProxy(proxy), log });
      const a = await direct.create(run('a'));
      await direct.create(run('b'));
      await direct.create(run('c'));
      const watch = record(watched, controller);
      await expect.poll(watch.summary, POLL).toEqual(['ADDED a', 'ADDED b', 'ADDED c']);

      // The network goes away: the live watch is cut and reconnections are refused.
      proxy.refuse();
      proxy.breakConnections();
      await expect.poll(() => log.withMessage('watch failed').length, POLL).toBeGreaterThanOrEqual(2);
      await direct.updateStatus(ref('a'), { phase: 'Running' }, a.metadata.resourceVersion);
      await direct.delete(ref('b'));
      await direct.create(run('d'));
      expect(watch.summary()).toEqual(['ADDED a', 'ADDED b', 'ADDED c']);

      // It comes back: one relist brings exactly the difference, c (unchanged) is not repeated.
      proxy.resume();
      await expect.poll(watch.summary, POLL).toEqual(['ADDED a', 'ADDED b', 'ADDED c', 'MODIFIED a', 'DELETED b', 'ADDED d']);
      expect(watch.events[3]?.object.status).toEqual({ phase: 'Running' });
      expect(log.withMessage('informer listed').length).toBeGreaterThanOrEqual(2);

      // And the new watch delivers live events again.
      await direct.create(run('e'));
      await expect.poll(() => watch.summary().at(-1), POLL).toBe('ADDED e');
      expect(watch.summary()).toHaveLength(7);
    } finally {
      controller.abort();
      await proxy.close();
    }
  });

  it('restarts a silent watch through the staleness watchdog without repeating events', async () => {
    prefix = `stale-${Math.random().toString(36).slice(2, 7)}-`;
    const log = new FakeLogger();
    const controller = new AbortController();
    try {
      await direct.create(run('a'));
      const watch = record(storeFor({ log, staleAfterMs: 300 }), controller);
      await expect.poll(watch.summary, POLL).toEqual(['ADDED a']);
      await expect.poll(() => log.withMessage('watch failed').filter((l) => l.fields['reason'] === 'stale').length, POLL)
        .toBeGreaterThanOrEqual(2);
      expect(watch.summary()).toEqual(['ADDED a']);
      await direct.create(run('b'));
      await expect.poll(watch.summary, POLL).toEqual(['ADDED a', 'ADDED b']);
    } finally {
      controller.abort();
    }
  });

  it('maps the server refusals: 422 with its message, a foreign namespace, the wrong kind', async () => {
    prefix = `err-${Math.random().toString(36).slice(2, 7)}-`;
    const invalid = await direct.create(run('Bad_Name')).then(() => undefined, (e: unknown) => e);
    expect(invalid).toMatchObject({ code: 'VALIDATION' });
    expect(String((invalid as Error).message)).toContain('Invalid value');
    await expect(direct.create({ ...run('x'), metadata: { name: `${prefix}x`, namespace: 'elsewhere' } })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(direct.get({ namespace: 'elsewhere', name: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(direct.create({ ...run('y'), kind: 'Other' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
