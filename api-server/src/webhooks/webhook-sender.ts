// Sends one webhook: Stromboli's headers and HMAC signature, a bounded number of attempts with
// exponential backoff (Stromboli tries twice, 100 ms apart), and the SSRF guard on the address
// actually connected to. Redirects are not followed (a 3xx is a failed attempt).
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { guardedLookup, isPrivateAddress } from './webhook-target.ts';

/** X-Stromboli-Signature: `sha256=` + hex HMAC-SHA256(secret, timestamp + "." + body), as Stromboli signs. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface WebhookRequest {
  url: URL;
  body: string;
  headers: Record<string, string>;
}

/** Performs one attempt; resolves with the HTTP status, rejects on network errors and timeouts. */
export type WebhookTransport = (request: WebhookRequest, options: { timeoutMs: number; signal: AbortSignal }) => Promise<number>;

/**
 * Why: the real transport, over node:http(s) rather than fetch, because only http.request lets the
 * DNS answer be checked on the connection itself (`lookup`). IP literals never reach a lookup, so
 * they are checked first.
 */
export function httpTransport(options: { allowPrivate: boolean }): WebhookTransport {
  return (req, { timeoutMs, signal }) =>
    new Promise<number>((resolve, reject) => {
      const host = req.url.hostname.replace(/^\[|\]$/g, '');
      if (!options.allowPrivate && isIP(host) !== 0 && isPrivateAddress(host)) {
        reject(new Error('webhook target is a private address'));
        return;
      }
      const send = req.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const outgoing = send(req.url, {
        method: 'POST',
        headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body, 'utf8')) },
        signal,
        timeout: timeoutMs,
        ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
      });
      const timer = setTimeout(() => outgoing.destroy(new Error(`webhook attempt timed out after ${timeoutMs} ms`)), timeoutMs);
      outgoing.on('timeout', () => outgoing.destroy(new Error(`webhook attempt timed out after ${timeoutMs} ms`)));
      outgoing.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      outgoing.on('response', (response) => {
        response.resume(); // the body is not read, only drained
        response.on('end', () => {
          clearTimeout(timer);
          resolve(response.statusCode ?? 0);
        });
        response.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      outgoing.end(req.body);
    });
}

export interface DeliveryOptions {
  transport: WebhookTransport;
  /** Signs when set; Stromboli sends unsigned without a secret, and so do we. */
  signingSecret?: string;
  /** Attempts in total. Default 5 (Stromboli: 2). */
  attempts?: number;
  /** Delay before the second attempt, doubled for each further one (plus up to 20 % jitter). Default 1 s. */
  baseDelayMs?: number;
  /** Per-attempt timeout. Default 5 s (as Stromboli). */
  timeoutMs?: number;
  /** Ends the attempts early (server shutdown). */
  signal?: AbortSignal;
  /** Injectable clock (epoch ms), for the timestamp header. */
  now?: () => number;
}

export interface DeliveryResult {
  delivered: boolean;
  attempts: number;
  /** The last HTTP status, when a response arrived. */
  status?: number;
  /** The last network error's code or message, when none did. */
  error?: string;
}

/** Statuses worth another attempt; any other non-2xx (a 400 or 401 from the receiver) will not change. */
function isRetryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** A short, non-sensitive description of a network error (its code when it has one). */
function describeError(err: unknown): string {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Why: at-least-once delivery with bounded effort. The body, timestamp and signature are computed
 * once and identical on every attempt, as in Stromboli, so a receiver can dedupe on them.
 */
export async function deliverWebhook(url: URL, payload: unknown, options: DeliveryOptions): Promise<DeliveryResult> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const baseDelayMs = options.baseDelayMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const signal = options.signal ?? new AbortController().signal;
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'stromboli-controller-webhook' };
  if (options.signingSecret !== undefined && options.signingSecret !== '') {
    const timestamp = String(Math.floor((options.now ?? Date.now)() / 1000));
    headers['x-stromboli-timestamp'] = timestamp;
    headers['x-stromboli-signature'] = signWebhook(options.signingSecret, timestamp, body);
  }
  const result: DeliveryResult = { delivered: false, attempts: 0 };
  for (let attempt = 1; attempt <= attempts && !signal.aborted; attempt++) {
    result.attempts = attempt;
    try {
      const status = await options.transport({ url, body, headers }, { timeoutMs, signal });
      result.status = status;
      delete result.error;
      if (status >= 200 && status < 300) {
        result.delivered = true;
        return result;
      }
      if (!isRetryable(status)) return result;
    } catch (err) {
      result.error = describeError(err);
      delete result.status;
    }
    if (attempt < attempts) {
      const delay = baseDelayMs * 2 ** (attempt - 1);
      // An abort ends the wait early; the loop then stops.
      await sleep(delay + Math.random() * delay * 0.2, undefined, { signal }).catch(() => undefined);
    }
  }
  return result;
}
