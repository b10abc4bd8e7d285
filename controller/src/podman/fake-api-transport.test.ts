import { describe, expect, it } from 'vitest';
import { FakeApiTransport } from './fake-api-transport.ts';

describe('FakeApiTransport', () => {
  it('behaves like libpod: a created container starts, dies with a died event on open streams, and goes', async () => {
    const fake = new FakeApiTransport();
    fake.images.add('img');
    const abort = new AbortController();
    const stream = await fake.stream('/events?stream=true', abort.signal);
    expect(stream.status).toBe(200);
    expect((await fake.request({ method: 'POST', path: '/containers/create', body: { name: 'c', image: 'img', labels: { k: 'v' } } })).status).toBe(201);
    expect((await fake.request({ method: 'POST', path: '/containers/create', body: { name: 'c', image: 'img' } })).status).toBe(500);
    expect((await fake.request({ method: 'POST', path: '/containers/c/start' })).status).toBe(204);
    fake.exit('c', 3);
    const lines: string[] = [];
    for await (const line of stream.lines) {
      lines.push(line);
      abort.abort();
    }
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ Action: 'died', Actor: { Attributes: { name: 'c', k: 'v', containerExitCode: '3' } } });
    expect(fake.openStreams).toBe(0);
    expect((await fake.request({ method: 'DELETE', path: '/containers/c' })).status).toBe(200);
    expect((await fake.request({ method: 'GET', path: '/containers/c/json' })).status).toBe(404);
  });

  it('fails a start it was told to fail, leaving the container created; refuses a missing image', async () => {
    const fake = new FakeApiTransport();
    fake.images.add('img');
    fake.failStart.add('c');
    await fake.request({ method: 'POST', path: '/containers/create', body: { name: 'c', image: 'img' } });
    expect((await fake.request({ method: 'POST', path: '/containers/c/start' })).status).toBe(500);
    expect(fake.containers.get('c')?.state).toBe('created');
    expect((await fake.request({ method: 'POST', path: '/containers/create', body: { name: 'd', image: 'nope' } })).status).toBe(500);
  });

  it('ends open streams when dropped, and refuses everything while down', async () => {
    const fake = new FakeApiTransport();
    const stream = await fake.stream('/events', new AbortController().signal);
    fake.dropStreams();
    for await (const _ of stream.lines) throw new Error('no line expected');
    fake.down = true;
    await expect(fake.request({ method: 'GET', path: '/_ping' })).rejects.toMatchObject({ code: 'TRANSIENT' });
  });
});
