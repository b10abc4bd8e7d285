// Stromboli's POST /run (wait for the result) and POST /run/async (a job id at once). Both write an
// AgentRun and read its status; the controller runs it. Error bodies are Stromboli's RunResponse
// envelope; every request problem is a 400 here (Stromboli answers most of them 500).
import { traceparentOf } from '../plugins/tracing.ts';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../../contract/errors.ts';
import { acceptJsonWithoutContentType } from '../run-facade/json-body.ts';
import type { RunFacade } from '../run-facade/run-facade.ts';
import { parseRunRequest, RunRequestSchema } from '../run-facade/run-request.ts';
import { crashInfoOf, failureOf, jobStatusOf, sessionIdOf, usageOf } from '../run-facade/run-view.ts';
import { AsyncRunResponseSchema, RunResponseSchema, runFamilyEnvelope } from '../run-facade/schemas.ts';
import type { RunResponse } from '../run-facade/schemas.ts';
import { checkWebhookUrl } from '../webhooks/webhook-target.ts';
import type { WebhookTargetPolicy } from '../webhooks/webhook-target.ts';
import type { StoredRun } from '../../../contract/ports.ts';
import { compact } from '../../../contract/compact.ts';

export interface RunRoutesOptions {
  facade: RunFacade;
  /** Aborted when the server begins to close: waiting requests answer 503, their runs go on. */
  shutdown: AbortSignal;
  webhookTargets: WebhookTargetPolicy;
  /** Stromboli's "Claude not configured" check (503). Default: always configured. */
  claudeConfigured?: () => boolean | Promise<boolean>;
}

/** Stromboli's 503 text (checklist item 9). */
export const CLAUDE_NOT_CONFIGURED =
  'Claude not configured. Start the server with --claude-credentials-file FILE, or with ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in its environment (docs/operations.md, "Credentials")';

const RunQuerySchema = z.object({
  cancel_on_disconnect: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .describe('true: cancel the run when the client disconnects before it ends (Stromboli kills it). Default false: the run goes on and stays readable as GET /jobs/{id}.'),
});

const errorResponses = {
  400: RunResponseSchema,
  409: RunResponseSchema,
  410: RunResponseSchema,
  413: RunResponseSchema,
  500: RunResponseSchema,
  503: RunResponseSchema,
};

/** The body is parsed by the handler (for Stromboli's messages); this keeps Fastify from answering first. */
const acceptAnyBody = () => (data: unknown) => ({ value: data });

function isTrue(flag: string | undefined): boolean {
  return flag === 'true' || flag === '1';
}

export async function requireClaude(check: RunRoutesOptions['claudeConfigured']): Promise<void> {
  if (check !== undefined && !(await check())) throw new AppError('UNAVAILABLE', CLAUDE_NOT_CONFIGURED);
}

/** The answer of a finished /run: 200 completed|crashed, or Stromboli's error envelope with the run's id. */
export async function runAnswer(facade: RunFacade, finished: StoredRun, signal: AbortSignal): Promise<{ code: 200 | 400 | 409 | 500; body: RunResponse }> {
  const id = finished.metadata.name;
  const sessionId = sessionIdOf(finished);
  const common = { ...compact({ session_id: sessionId }) };
  const status = jobStatusOf(finished);
  const usage = usageOf(finished);
  const output = await facade.output(finished, signal);
  const withOutput = output === undefined ? {} : { output };
  const withUsage = usage === undefined ? {} : { usage };
  if (status === 'completed' || status === 'crashed') {
    const structured = finished.status?.structuredOutput;
    const crashInfo = status === 'crashed' ? crashInfoOf(finished) : undefined;
    return {
      code: 200,
      body: {
        id,
        status,
        ...withOutput,
        ...(structured === undefined || structured === null ? {} : { structured_output: structured }),
        ...common,
        ...withUsage,
        ...compact({ crash_info: crashInfo }),
      },
    };
  }
  if (status === 'cancelled') return { code: 409, body: { id, status: 'error', error: 'run cancelled', ...common } };
  const failure = failureOf(finished);
  return { code: failure.httpStatus, body: { id, status: 'error', ...withOutput, error: failure.error, ...common, ...withUsage } };
}

export const runRoutes: FastifyPluginAsync<RunRoutesOptions> = async (fastify, opts) => {
  acceptJsonWithoutContentType(fastify);
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const config = { errorEnvelope: runFamilyEnvelope };

  app.post(
    '/run',
    {
      config,
      validatorCompiler: acceptAnyBody,
      schema: {
        tags: ['execution'],
        summary: 'Run Claude and wait for the result',
        description:
          'Creates an AgentRun (id run-<16 hex>) and answers when it has finished. If the client disconnects first the run goes on (see cancel_on_disconnect) and stays readable as GET /jobs/{id}.',
        querystring: RunQuerySchema,
        body: RunRequestSchema,
        response: { 200: RunResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const parsed = parseRunRequest(request.body);
      await requireClaude(opts.claudeConfigured);
      const run = await opts.facade.create('run', parsed, { traceparent: traceparentOf(request) });
      const id = run.metadata.name;
      const agentRun = `${run.metadata.namespace}/${id}`;

      // A POST's request stream ends once its body is read, so the response says when the client left.
      const client = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableFinished) client.abort(new Error('client disconnected'));
      };
      reply.raw.once('close', onClose);
      let finished: StoredRun | undefined;
      try {
        finished = await opts.facade.waitUntilFinished(run, AbortSignal.any([client.signal, opts.shutdown]));
      } catch (err) {
        if (client.signal.aborted) return leave(reply, opts.facade, id, isTrue(request.query.cancel_on_disconnect), request.log, agentRun);
        if (opts.shutdown.aborted) {
          return reply.code(503).send({ id, status: 'error', error: `server shutting down; the run goes on: GET /jobs/${id}`, session_id: parsed.sessionId });
        }
        throw err;
      } finally {
        reply.raw.off('close', onClose);
      }
      if (finished === undefined) return reply.code(410).send({ id, status: 'error', error: 'the run was deleted before it finished', session_id: parsed.sessionId });
      const answer = await runAnswer(opts.facade, finished, opts.shutdown);
      return reply.code(answer.code).send(answer.body);
    },
  );

  app.post(
    '/run/async',
    {
      config,
      validatorCompiler: acceptAnyBody,
      schema: {
        tags: ['execution'],
        summary: 'Start Claude as a job',
        description: 'Creates an AgentRun named after the job id. webhook_url is called when the job ends (targets on private addresses are refused unless allowed).',
        body: RunRequestSchema,
        response: { 202: AsyncRunResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const parsed = parseRunRequest(request.body);
      await requireClaude(opts.claudeConfigured);
      const webhook = parsed.webhookUrl === undefined ? undefined : (await checkWebhookUrl(parsed.webhookUrl, opts.webhookTargets)).href;
      const run = await opts.facade.create('job', parsed, { webhookUrl: webhook, traceparent: traceparentOf(request) });
      return reply.code(202).send({ job_id: run.metadata.name, session_id: parsed.sessionId });
    },
  );
};

/** The client is gone: cancel when asked to, then drop the connection (there is no one to answer). */
async function leave(
  reply: FastifyReply,
  facade: RunFacade,
  id: string,
  cancel: boolean,
  log: { info: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void },
  agentRun: string,
): Promise<void> {
  if (cancel) {
    try {
      await facade.cancelJob(id);
    } catch (err) {
      // A run that ended in the meantime cannot be cancelled, and needs not be.
      if (!(err instanceof AppError && err.code === 'CONFLICT')) log.warn({ err, agentRun }, 'cancel on disconnect failed');
    }
  }
  log.info({ agentRun, cancelled: cancel }, 'client left before the run finished');
  reply.hijack();
  reply.raw.destroy();
}
