// The facade's LogReader in Kubernetes mode: an attempt's log is on the node agent that ran it,
// at the URL that agent wrote as status.logRef (log-ref.ts). Reads it over HTTP with the shared
// token; a run with no log yet is re-read until its agent records one (or it finishes). An
// unreachable agent is a clear UNAVAILABLE error within connectTimeoutMs, and a follow that hears
// nothing (not even a heartbeat) for idleTimeoutMs fails the same way: never a hang.
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import { AppError, isAppError } from '../../../contract/errors.ts';
import type { LogReader, RunStore, StoredRun } from '../../../contract/ports.ts';
import { logBaseOf, logUrlOf } from './log-ref.ts';
import { abortableSleep } from '../../../contract/sleep.ts';

/** Default connectTimeoutMs: from the request to the agent's response headers. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Default idleTimeoutMs: three of the agent's heartbeats (DEFAULT_HEARTBEAT_MS) missed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Default waitPollMs: how often a follow re-reads a run whose agent has not recorded a log yet. */
export const DEFAULT_WAIT_POLL_MS = 500;

export interface NodeLogReaderOptions {
  /** Where the run is re-read while it has no log yet. */
  runs: Pick<RunStore, 'get'>;
  /** The token the agents share (token.ts). Undefined: every read of a log fails with UNAVAILABLE saying so. */
  token: string | undefined;
  /** Default DEFAULT_CONNECT_TIMEOUT_MS (5 s). */
  connectTimeoutMs?: number;
  /** Default DEFAULT_IDLE_TIMEOUT_MS (30 s). */
  idleTimeoutMs?: number;
  /** Default DEFAULT_WAIT_POLL_MS (500 ms). */
  waitPollMs?: number;
}

type ReadOptions = Parameters<LogReader['lines']>[1];

export class NodeLogReader implements LogReader {
  readonly #runs: Pick<RunStore, 'get'>;
  readonly #token: string | undefined;
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #waitPollMs: number;

  constructor(options: NodeLogReaderOptions) {
    this.#runs = options.runs;
    this.#token = options.token;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#waitPollMs = options.waitPollMs ?? DEFAULT_WAIT_POLL_MS;
  }

  async *lines(run: StoredRun, options: ReadOptions): AsyncGenerator<string> {
    const attempt = options.attempt ?? run.status?.attempt ?? 1;
    const current = await this.#withLog(run, attempt, options);
    if (current === undefined) return;
    const agent = logBaseOf(current.status?.logRef);
    const where = `${run.metadata.namespace}/${run.metadata.name}`;
    if (agent === undefined) {
      throw new AppError('UNAVAILABLE', `the log of ${where} is on node ${current.status?.node ?? '(unknown)'}, whose agent serves no log endpoint (start it with --log-address)`);
    }
    if (this.#token === undefined) throw new AppError('UNAVAILABLE', `cannot read the log of ${where} from its node agent: this server has no --log-token-file`);
    const url = new URL(logUrlOf(agent, run.metadata, attempt));
    if (options.fromLine !== undefined && options.fromLine > 0) url.searchParams.set('fromLine', String(options.fromLine));
    if (options.follow) url.searchParams.set('follow', 'true');
    yield* this.#fetch(url, where, current.status?.node, options.signal);
  }

  /** The run once its agent recorded a log of this attempt (or a later one); undefined when there is none to read. */
  async #withLog(run: StoredRun, attempt: number, options: ReadOptions): Promise<StoredRun | undefined> {
    let current = run;
    for (;;) {
      if (current.status?.logRef !== undefined && (current.status.attempt ?? 1) >= attempt) return current;
      if (!options.follow || isTerminalPhase(current.status?.phase) || options.signal.aborted) return undefined;
      await abortableSleep(this.#waitPollMs, options.signal);
      if (options.signal.aborted) return undefined;
      try {
        current = await this.#runs.get({ namespace: run.metadata.namespace, name: run.metadata.name });
      } catch (err) {
        if (isAppError(err) && err.code === 'NOT_FOUND') return undefined;
        throw err;
      }
      if (current.metadata.uid !== run.metadata.uid) return undefined;
    }
  }

  async *#fetch(url: URL, where: string, node: string | undefined, signal: AbortSignal): AsyncGenerator<string> {
    const agent = `the node agent${node === undefined ? '' : ` of ${node}`} at ${url.origin}`;
    const unavailable = (what: string, cause?: unknown): AppError =>
      new AppError('UNAVAILABLE', `cannot read the log of ${where}: ${agent} ${what}`, cause === undefined ? {} : { cause });
    const response = await this.#connect(url, signal, unavailable);
    if (response === undefined) return;
    try {
      if (response.statusCode === 404) return; // the agent knows no such run or log: nothing to read, as with a missing file
      if (response.statusCode === 401) throw unavailable('refused this server\'s log token (401): the facade and the agents must read the same --log-token-file');
      if (response.statusCode !== 200) throw unavailable(`answered HTTP ${response.statusCode ?? '?'}`);
      let idle: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => response.destroy(unavailable(`sent nothing for ${this.#idleTimeoutMs} ms`)), this.#idleTimeoutMs);
      };
      let pending = '';
      try {
        arm();
        for await (const chunk of response as AsyncIterable<Buffer>) {
          arm();
          pending += chunk.toString('utf8');
          const parts = pending.split('\n');
          pending = parts.pop() ?? '';
          for (const part of parts) {
            if (part === '') continue; // heartbeat
            const line: unknown = JSON.parse(part);
            if (typeof line !== 'string') throw unavailable('sent a record that is not a log line');
            yield line;
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        throw isAppError(err) ? err : unavailable(`closed the log stream before its end (${describe(err)})`, err);
      } finally {
        clearTimeout(idle);
      }
    } finally {
      response.destroy();
    }
  }

  /** The response, or undefined when `signal` aborted first; UNAVAILABLE when the agent cannot be reached in time. */
  #connect(url: URL, signal: AbortSignal, unavailable: (what: string, cause?: unknown) => AppError): Promise<IncomingMessage | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const outgoing = request(url, { headers: { authorization: `Bearer ${this.#token ?? ''}`, accept: 'application/x-ndjson' } });
      const timer = setTimeout(() => outgoing.destroy(unavailable(`did not answer within ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs);
      const onAbort = (): void => {
        outgoing.destroy();
        settle();
        resolve(undefined);
      };
      const settle = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      outgoing.once('response', (response) => {
        settle();
        if (signal.aborted) {
          response.destroy();
          resolve(undefined);
        } else resolve(response);
      });
      outgoing.once('error', (err) => {
        settle();
        if (signal.aborted) resolve(undefined);
        else reject(isAppError(err) ? err : unavailable(`is unreachable (${describe(err)})`, err));
      });
      outgoing.end();
    });
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ?? err.message;
  return String(err);
}
