// Stromboli's GET /run/stream (SSE), plus GET /jobs/{id}/stream to re-attach to a run. Both serve
// the run's persisted log, with `id: <run>:<line>` on every line frame: a client that reconnects
// with Last-Event-ID (EventSource does so by itself, to the same URL) continues where it stopped,
// and /run/stream re-attaches instead of starting a second run. A client that leaves does not stop
// the run unless it asked to (cancel_on_disconnect=true); Stromboli kills it (docs/compatibility.md).
import { traceparentOf } from '../plugins/tracing.ts';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, ValidationError } from '../../../contract/errors.ts';
import type { LogReader, StoredRun } from '../../../contract/ports.ts';
import { toHttpError } from '../errors.ts';
import type { RunFacade } from '../run-facade/run-facade.ts';
import { parseStreamQuery } from '../run-facade/run-request.ts';
import { pumpRun } from '../run-facade/run-stream.ts';
import { JobIdParamsSchema, RunResponseSchema, runFamilyEnvelope } from '../run-facade/schemas.ts';
import { SSE_HEADERS, SseWriter, eventFrame, parseEventId } from '../run-facade/sse.ts';
import { requireClaude } from './run.ts';

export interface StreamRoutesOptions {
  facade: RunFacade;
  logs: LogReader;
  /** Aborted when the server begins to close: streams end without a final event, clients reconnect. */
  shutdown: AbortSignal;
  /** Comment heartbeat period. Default 15 s. */
  heartbeatMs?: number;
  /** Stromboli's "Claude not configured" check (503). Default: always configured. */
  claudeConfigured?: () => boolean | Promise<boolean>;
}

const Flag = z.enum(['true', 'false', '1', '0']).optional();

const StreamQuerySchema = z.looseObject({
  prompt: z.string().describe('Required: the prompt.'),
  workdir: z.string().optional().describe('Working directory inside the container.'),
  session_id: z.string().optional().describe('Session to use (a UUID); a new one when absent.'),
  resume: Flag.describe('true: continue session_id (claude --resume). Not in Stromboli, whose stream can only start new sessions.'),
  cancel_on_disconnect: Flag.describe('true: cancel the run when the client disconnects (Stromboli always does). Default false: the run goes on and can be re-attached.'),
});

const ReattachQuerySchema = z.object({
  last_event_id: z.string().optional().describe('Same as the Last-Event-ID header: the id of the last frame received (<run>:<line> or <line>).'),
  cancel_on_disconnect: Flag,
});

const SseText = z.string().describe('text/event-stream: `id: <run>:<line>` + `data: <stream-json line>` frames, then `event: done` or `event: error`.');
const sseResponse = { description: 'Event stream', content: { 'text/event-stream': { schema: SseText } } };
const textError = (description: string) => ({ description, content: { 'text/plain': { schema: z.string() } } });

/** Queries are parsed by the handler, for Stromboli's plain-text messages. */
const acceptAnyQuery = () => (data: unknown) => ({ value: data });

function isTrue(flag: unknown): boolean {
  return flag === 'true' || flag === '1';
}

function lastEventIdOf(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}

export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const heartbeatMs = opts.heartbeatMs ?? 15_000;

  /** Writes the stream of `run` from `fromLine`; the response is ours from here on (no JSON errors after the headers). */
  const serve = async (reply: FastifyReply, log: FastifyBaseLogger, run: StoredRun, fromLine: number, cancelOnDisconnect: boolean): Promise<void> => {
    reply.hijack();
    const headers: OutgoingHttpHeaders = {};
    for (const [key, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[key] = value;
    reply.raw.writeHead(200, { ...headers, ...SSE_HEADERS, 'x-stromboli-run-id': run.metadata.name });
    reply.raw.flushHeaders();
    const writer = new SseWriter(reply.raw, { heartbeatMs });
    const client = new AbortController();
    const onClose = (): void => client.abort(new Error('client disconnected'));
    reply.raw.once('close', onClose);
    const agentRun = `${run.metadata.namespace}/${run.metadata.name}`;
    let result: 'finished' | 'interrupted' = 'interrupted';
    try {
      result = await pumpRun({ facade: opts.facade, logs: opts.logs, run, fromLine, writer, signal: AbortSignal.any([client.signal, opts.shutdown]) });
    } catch (err) {
      log.error({ err, agentRun }, 'run stream failed');
      // A known unavailability (the node agent holding the log cannot be reached) says so; anything else stays generic.
      await writer.write(eventFrame('error', toHttpError(err).message));
      result = 'finished';
    } finally {
      reply.raw.off('close', onClose);
      writer.end();
    }
    if (result === 'interrupted' && client.signal.aborted && !opts.shutdown.aborted && cancelOnDisconnect) {
      try {
        await opts.facade.cancelJob(run.metadata.name);
        log.info({ agentRun }, 'stream client left; run cancelled as asked');
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'CONFLICT')) log.warn({ err, agentRun }, 'cancel on disconnect failed');
      }
    }
  };

  app.get(
    '/run/stream',
    {
      config: { errorFormat: 'text' },
      // A HEAD must not start a run (Stromboli has no HEAD routes at all).
      exposeHeadRoute: false,
      validatorCompiler: acceptAnyQuery,
      schema: {
        tags: ['execution'],
        summary: 'Run Claude and stream its output (SSE)',
        description:
          'Creates an AgentRun (id in the X-Stromboli-Run-Id header and in every frame id) and streams its stream-json lines. With a Last-Event-ID header naming an existing run, re-attaches to it instead of starting another.',
        querystring: StreamQuerySchema,
        response: { 200: sseResponse, 400: textError('Invalid request'), 404: textError('Last-Event-ID names no job'), 413: textError('Prompt too large'), 503: textError('Claude not configured') },
      },
    },
    async (request, reply) => {
      const query: Record<string, unknown> = request.query;
      const cancelOnDisconnect = isTrue(query.cancel_on_disconnect);
      const resumeFrom = parseEventId(lastEventIdOf(request.headers['last-event-id']));
      if (resumeFrom?.name !== undefined) {
        const run = await opts.facade.findJob(resumeFrom.name);
        return serve(reply, request.log, run, resumeFrom.line, cancelOnDisconnect);
      }
      const parsed = parseStreamQuery(query);
      await requireClaude(opts.claudeConfigured);
      const run = await opts.facade.create('run', parsed, { traceparent: traceparentOf(request) });
      return serve(reply, request.log, run, 0, cancelOnDisconnect);
    },
  );

  app.get(
    '/jobs/:id/stream',
    {
      config: { errorEnvelope: runFamilyEnvelope },
      exposeHeadRoute: false,
      schema: {
        tags: ['jobs'],
        summary: "Re-attach to a job's stream (SSE)",
        description: 'The same frames as /run/stream, from the start or after Last-Event-ID; a finished job replays its log and ends with its final event.',
        params: JobIdParamsSchema,
        querystring: ReattachQuerySchema,
        response: { 200: sseResponse, 400: RunResponseSchema, 404: RunResponseSchema },
      },
    },
    async (request, reply) => {
      const run = await opts.facade.findJob(request.params.id);
      const raw = lastEventIdOf(request.headers['last-event-id']) ?? request.query.last_event_id;
      const position = parseEventId(raw);
      if (raw !== undefined && position === undefined) throw new ValidationError('Invalid request: Last-Event-ID must be <run>:<line> or <line>');
      if (position?.name !== undefined && position.name !== run.metadata.name) throw new ValidationError('Invalid request: Last-Event-ID names another run');
      return serve(reply, request.log, run, position?.line ?? 0, isTrue(request.query.cancel_on_disconnect));
    },
  );
};
