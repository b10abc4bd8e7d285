// The node agent's log endpoint: the attempt logs of this node's state directory, served to the
// facade (which runs elsewhere in Kubernetes mode) as NDJSON. Every request needs the shared
// bearer token (401 otherwise); the token never appears in a log line (headers are not logged).
//
//   GET /logs/{namespace}/{name}/{uid}/attempts/{n}?fromLine=K&follow=true
//   200 application/x-ndjson: each log line as one JSON string, then the end of the response
//       (follow: once the run is finished, replaced, or on to a later attempt); while following,
//       an empty line every heartbeatMs tells the reader the agent is alive.
//   401 {code, message} without the token; 404 when this node knows neither the run nor a log of it.
//
// Like buildApp, buildNodeLogApp never listens: the entry point (cmd/kube.ts) decides where.
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../../../contract/errors.ts';
import { registerErrorHandling } from '../plugins/error-handler.ts';
import type { LogRunIdentity } from './log-ref.ts';
import { bearerMatches } from './token.ts';

/** Where the endpoint reads an attempt's lines (controller/src/runner/file-log-reader.ts attemptLogSource). */
export interface NodeLogSource {
  /** Undefined when this node knows neither the run (by uid) nor a log of it. */
  open(run: LogRunIdentity, attempt: number, options: { follow: boolean; fromLine?: number; signal: AbortSignal }): Promise<AsyncIterable<string> | undefined>;
}

export interface NodeLogAppOptions {
  source: NodeLogSource;
  /** The shared bearer token (api-server/src/node-logs/token.ts). */
  token: string;
  /** A pino logger. Default: none. */
  logger?: FastifyBaseLogger;
  /** Keep-alive line period while following. Default DEFAULT_HEARTBEAT_MS (10 s). */
  heartbeatMs?: number;
}

/** Default heartbeatMs: well under the reader's idle timeout (DEFAULT_IDLE_TIMEOUT_MS). */
export const DEFAULT_HEARTBEAT_MS = 10_000;

const Segment = z.string().min(1).max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
const Params = z.object({ namespace: Segment, name: Segment, uid: z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/), attempt: z.coerce.number().int().min(1).max(1000) });
const Query = z.object({ fromLine: z.coerce.number().int().min(0).optional(), follow: z.enum(['true', 'false', '1', '0']).optional() });
const ErrorBody = z.object({ code: z.string(), message: z.string() });

export async function buildNodeLogApp(options: NodeLogAppOptions): Promise<FastifyInstance> {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const app = Fastify({
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    // One line per log read is noise on a busy node; failures are logged by the route.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  // Open follows end when the server closes, so close() never waits on a long run.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());
  app.addHook('onRequest', async (request, reply) => {
    if (bearerMatches(request.headers.authorization, options.token)) return;
    await reply.code(401).header('www-authenticate', 'Bearer').send({ code: 'UNAUTHORIZED', message: 'the log endpoint needs the shared bearer token (--log-token-file)' });
  });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/logs/:namespace/:name/:uid/attempts/:attempt',
    { schema: { params: Params, querystring: Query, response: { 401: ErrorBody, 404: ErrorBody } } },
    async (request, reply) => {
      const { namespace, name, uid, attempt } = request.params;
      const follow = request.query.follow === 'true' || request.query.follow === '1';
      const client = new AbortController();
      const signal = AbortSignal.any([client.signal, closing.signal]);
      const lines = await options.source.open({ namespace, name, uid }, attempt, { follow, signal, ...(request.query.fromLine === undefined ? {} : { fromLine: request.query.fromLine }) });
      if (lines === undefined) throw new NotFoundError(`no run ${namespace}/${name} with uid ${uid} and no log of it on this node`);
      reply.hijack();
      const raw = reply.raw;
      raw.once('close', () => client.abort());
      raw.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': request.id });
      raw.flushHeaders();
      const heartbeat = follow ? setInterval(() => raw.write('\n'), heartbeatMs) : undefined;
      heartbeat?.unref();
      try {
        for await (const line of lines) {
          if (!raw.write(`${JSON.stringify(line)}\n`)) await new Promise((resolve) => raw.once('drain', resolve).once('close', resolve));
          if (signal.aborted) break;
        }
        // A close of the server mid-follow is not the end of the log: cut the response so the reader knows.
        if (closing.signal.aborted) raw.destroy();
        else raw.end();
      } catch (err) {
        request.log.warn({ err, agentRun: `${namespace}/${name}`, attempt }, 'log stream failed');
        raw.destroy();
      } finally {
        clearInterval(heartbeat);
      }
      return reply;
    },
  );
  return app;
}
