import { describe, expect, it } from 'vitest';
import { ContainerEvents, parseDiedEvent } from './container-events.ts';
import type { DiedEvent } from './container-events.ts';
import { FakeApiTransport } from './fake-api-transport.ts';

describe('parseDiedEvent', () => {
  it('reads the name, labels and exit code of a died event; skips lines without Actor, other actions and non-JSON', () => {
    const line = JSON.stringify({ Type: 'container', Action: 'died', Actor: { ID: 'x', Attributes: { name: 'c', containerExitCode: '0', 'stromboli.dev/uid': 'u' } } });
    expect(parseDiedEvent(line)).toEqual({ name: 'c', exitCode: 0, labels: { name: 'c', containerExitCode: '0', 'stromboli.dev/uid': 'u' } });
    expect(parseDiedEvent(JSON.stringify({ Type: 'container', Action: 'died' }))).toBeUndefined();
    expect(parseDiedEvent(JSON.stringify({ Type: 'container', Action: 'start', Actor: { Attributes: { name: 'c' } } }))).toBeUndefined();
    expect(parseDiedEvent('not json')).toBeUndefined();
    expect(parseDiedEvent(JSON.stringify({ Type: 'container', Action: 'died', Actor: { Attributes: { name: 'c', containerExitCode: 'x' } } }))?.exitCode).toBeUndefined();
  });
});

describe('ContainerEvents', () => {
  it('delivers died events, reconnects after the stream ends and says so', async () => {
    const fake = new FakeApiTransport();
    fake.images.add('img');
    const died: DiedEvent[] = [];
    let resumed = 0;
    const events = new ContainerEvents({ transport: fake, labels: { o: '1' }, onDied: (e) => died.push(e), onReconnect: () => (resumed += 1), backoff: { baseMs: 1, capMs: 2 } });
    await events.start();
    expect(events.connected).toBe(true);
    await fake.request({ method: 'POST', path: '/containers/create', body: { name: 'c', image: 'img', labels: { o: '1' } } });
    await fake.request({ method: 'POST', path: '/containers/c/start' });
    fake.emit({ status: 'keepalive' }); // no Actor: skipped
    fake.exit('c', 0);
    await expect.poll(() => died.map((e) => [e.name, e.exitCode])).toEqual([['c', 0]]);
    fake.dropStreams();
    await expect.poll(() => resumed).toBe(1);
    await expect.poll(() => fake.openStreams).toBe(1);
    await events.close();
    expect(fake.openStreams).toBe(0);
  });

  it('keeps retrying while the service is down, and its first start does not wait for it', async () => {
    const fake = new FakeApiTransport();
    fake.down = true;
    const events = new ContainerEvents({ transport: fake, labels: { o: '1' }, onDied: () => undefined, backoff: { baseMs: 1, capMs: 2 } });
    await events.start();
    expect(events.connected).toBe(false);
    fake.down = false;
    await expect.poll(() => events.connected).toBe(true);
    await events.close();
  });
});
