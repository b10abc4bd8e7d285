import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deliverWebhook, httpTransport, signWebhook } from './webhook-sender.ts';
import type { WebhookRequest, WebhookTransport } from './webhook-sender.ts';

const URL_ = new URL('https://hooks.example.com/done');

/** A transport that answers from a script and records every attempt. */
function scripted(...answers: Array<number | Error>): { transport: WebhookTransport; sent: WebhookRequest[] } {
  const sent: WebhookRequest[] = [];
  const transport: WebhookTransport = async (request) => {
    sent.push(request);
    const answer = answers.shift() ?? 200;
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { transport, sent };
}

describe('signWebhook', () => {
  it('is sha256= + the hex HMAC-SHA256 of "<timestamp>.<body>", as Stromboli signs', () => {
    const expected = createHmac('sha256', 'k3y').update('1700000000.{"a":1}').digest('hex');
    expect(signWebhook('k3y', '1700000000', '{"a":1}')).toBe(`sha256=${expected}`);
  });
});

describe('deliverWebhook', () => {
  it('posts JSON with Stromboli\'s timestamp and signature headers when a secret is set', async () => {
    const { transport, sent } = scripted(204);
    const result = await deliverWebhook(URL_, { job_id: 'job-1', status: 'completed' }, { transport, signingSecret: 's3cret', now: () => 1_700_000_000_500 });
    expect(result).toEqual({ delivered: true, attempts: 1, status: 204 });
    const request = sent[0];
    expect(request?.body).toBe('{"job_id":"job-1","status":"completed"}');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['x-stromboli-timestamp']).toBe('1700000000');
    expect(request?.headers['x-stromboli-signature']).toBe(signWebhook('s3cret', '1700000000', request?.body ?? ''));
  });

  it('sends unsigned without a secret', async () => {
    const { transport, sent } = scripted(200);
    await deliverWebhook(URL_, {}, { transport });
    expect(sent[0]?.headers).not.toHaveProperty('x-stromboli-signature');
    expect(sent[0]?.headers).not.toHaveProperty('x-stromboli-timestamp');
  });

  it('retries network errors and 5xx with the same body and signature, then succeeds', async () => {
    const { transport, sent } = scripted(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 503, 429, 200);
    const result = await deliverWebhook(URL_, { job_id: 'j' }, { transport, signingSecret: 's', baseDelayMs: 1 });
    expect(result).toEqual({ delivered: true, attempts: 4, status: 200 });
    expect(new Set(sent.map((r) => `${r.body}|${r.headers['x-stromboli-signature']}|${r.headers['x-stromboli-timestamp']}`)).size).toBe(1);
  });

  it('stops at once on a 4xx that another attempt cannot change, and on a redirect', async () => {
    const rejected = scripted(401);
    expect(await deliverWebhook(URL_, {}, { transport: rejected.transport, baseDelayMs: 1 })).toEqual({ delivered: false, attempts: 1, status: 401 });
    const moved = scripted(302);
    expect(await deliverWebhook(URL_, {}, { transport: moved.transport, baseDelayMs: 1 })).toEqual({ delivered: false, attempts: 1, status: 302 });
  });

  it('gives up after the bounded number of attempts', async () => {
    const { transport, sent } = scripted(500, 500, 500, 500, 500, 500);
    const result = await deliverWebhook(URL_, {}, { transport, attempts: 3, baseDelayMs: 1 });
    expect(result).toEqual({ delivered: false, attempts: 3, status: 500 });
    expect(sent).toHaveLength(3);
  });

  it('stops retrying when its signal aborts', async () => {
    const abort = new AbortController();
    const { transport, sent } = scripted(500, 500, 500);
    const delivery = deliverWebhook(URL_, {}, { transport, baseDelayMs: 60_000, signal: abort.signal });
    await expect.poll(() => sent.length).toBe(1);
    abort.abort();
    expect(await delivery).toMatchObject({ delivered: false, attempts: 1 });
  });
});

describe('httpTransport', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  async function receiver(status: number): Promise<{ url: string; seen: Array<{ headers: IncomingHttpHeaders; body: string }> }> {
    const seen: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.writeHead(status, status === 302 ? { location: 'http://169.254.169.254/' } : {}).end('ignored');
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/hook`, seen };
  }

  it('posts the body and headers and answers the status (private targets allowed)', async () => {
    const { url, seen } = await receiver(202);
    const send = httpTransport({ allowPrivate: true });
    const status = await send({ url: new URL(url), body: '{"x":1}', headers: { 'content-type': 'application/json', 'x-stromboli-signature': 'sha256=ab' } }, { timeoutMs: 5000, signal: new AbortController().signal });
    expect(status).toBe(202);
    expect(seen[0]?.body).toBe('{"x":1}');
    expect(seen[0]?.headers['x-stromboli-signature']).toBe('sha256=ab');
    expect(seen[0]?.headers['content-length']).toBe('7');
  });

  it('does not follow redirects', async () => {
    const { url, seen } = await receiver(302);
    const status = await httpTransport({ allowPrivate: true })({ url: new URL(url), body: '{}', headers: {} }, { timeoutMs: 5000, signal: new AbortController().signal });
    expect(status).toBe(302);
    expect(seen).toHaveLength(1);
  });

  it('refuses a loopback target when private targets are not allowed, by IP and by name', async () => {
    const { url, seen } = await receiver(200);
    const send = httpTransport({ allowPrivate: false });
    const options = { timeoutMs: 5000, signal: new AbortController().signal };
    await expect(send({ url: new URL(url), body: '{}', headers: {} }, options)).rejects.toThrow(/private address/);
    const byName = new URL(url);
    byName.hostname = 'localhost';
    await expect(send({ url: byName, body: '{}', headers: {} }, options)).rejects.toMatchObject({ code: 'EWEBHOOKTARGET' });
    expect(seen).toHaveLength(0);
  });
});
