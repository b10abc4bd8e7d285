// Stromboli's run family as one registration: the three route groups (run, jobs, stream) and the
// services they share — one store watch, the facade, the webhook dispatcher — with their
// lifecycle tied to the app's (watch opens on ready; waits and streams end on close, runs go on).
import type { FastifyPluginAsync } from 'fastify';
import type { LogReader, RunStore, WebhookSettings } from '../../../contract/ports.ts';
import { jobRoutes } from './jobs.ts';
import { runRoutes } from './run.ts';
import { streamRoutes } from './stream.ts';
import { RunFacade } from '../run-facade/run-facade.ts';
import { RunWatcher } from '../run-facade/run-watcher.ts';
import { WebhookDispatcher } from '../webhooks/webhook-dispatcher.ts';
import { deliverWebhook, httpTransport } from '../webhooks/webhook-sender.ts';
import type { WebhookTransport } from '../webhooks/webhook-sender.ts';
import { systemResolveHost } from '../webhooks/webhook-target.ts';
import type { ResolveHost } from '../webhooks/webhook-target.ts';
import { compact } from '../../../contract/compact.ts';

export interface RunFamilyOptions {
  runs: RunStore;
  logs: LogReader;
  /** Namespace of API-created runs. */
  namespace: string;
  webhooks?: WebhookSettings;
  /** Stromboli's "Claude not configured" 503. Default: always configured. */
  claudeConfigured?: () => boolean | Promise<boolean>;
  /** ttlSecondsAfterFinished of API-created runs. Default 3600 (Stromboli's job cleanup TTL); 0 keeps them. */
  finishedTtlSeconds?: number;
  /** SSE heartbeat period. Default 15 s. */
  heartbeatMs?: number;
  /** How often a waiting request re-reads its run without events. Default 30 s. */
  resyncMs?: number;
  /** Webhook attempts in total. Default 5. */
  webhookAttempts?: number;
  /** Delay before the second webhook attempt (doubling). Default 1 s. */
  webhookBaseDelayMs?: number;
  /** Per-attempt webhook timeout. Default 5 s. */
  webhookTimeoutMs?: number;
  /** For tests: DNS resolution of webhook hosts at submit time. Default: the system resolver. */
  resolveHost?: ResolveHost;
  /** For tests: how a webhook attempt is sent. Default: node:http(s) with the address guard. */
  webhookTransport?: WebhookTransport;
  /** For tests: receives the dispatcher, e.g. to wait until deliveries are done. */
  onDispatcher?: (dispatcher: WebhookDispatcher) => void;
}

export const runFamily: FastifyPluginAsync<RunFamilyOptions> = async (fastify, opts) => {
  const log = fastify.log;
  const allowPrivate = opts.webhooks?.allowPrivateTargets === true;
  const watcher = new RunWatcher({ runs: opts.runs, log, ...compact({ resyncMs: opts.resyncMs }) });
  const facade = new RunFacade({
    runs: opts.runs,
    logs: opts.logs,
    watcher,
    namespace: opts.namespace,
    log,
    ...compact({ finishedTtlSeconds: opts.finishedTtlSeconds }),
  });
  const transport = opts.webhookTransport ?? httpTransport({ allowPrivate });
  const signingSecret = opts.webhooks?.signingSecret;
  const dispatcher = new WebhookDispatcher({
    watcher,
    log,
    payloadOf: (run, signal) => facade.webhookPayload(run, signal),
    deliver: (url, payload, signal) =>
      deliverWebhook(url, payload, {
        transport,
        signal,
        ...compact({ signingSecret }),
        ...compact({ attempts: opts.webhookAttempts }),
        ...compact({ baseDelayMs: opts.webhookBaseDelayMs }),
        ...compact({ timeoutMs: opts.webhookTimeoutMs }),
      }),
  });
  opts.onDispatcher?.(dispatcher);
  if (signingSecret === undefined || signingSecret === '') log.warn('webhook signing secret not set; webhooks are sent unsigned');

  // Aborted first thing on close: waiting /run requests answer 503 and streams end, so close never
  // waits for a run (which goes on, in the controller).
  const shutdown = new AbortController();
  fastify.addHook('onReady', async () => {
    watcher.start();
    dispatcher.start();
  });
  fastify.addHook('preClose', async () => {
    shutdown.abort(new Error('server shutting down'));
  });
  fastify.addHook('onClose', async () => {
    await dispatcher.stop();
    await watcher.stop();
  });

  const claudeConfigured = opts.claudeConfigured === undefined ? {} : { claudeConfigured: opts.claudeConfigured };
  await fastify.register(runRoutes, {
    facade,
    shutdown: shutdown.signal,
    webhookTargets: { allowPrivate, resolveHost: opts.resolveHost ?? systemResolveHost },
    ...claudeConfigured,
  });
  await fastify.register(jobRoutes, { facade, shutdown: shutdown.signal });
  await fastify.register(streamRoutes, {
    facade,
    logs: opts.logs,
    shutdown: shutdown.signal,
    ...compact({ heartbeatMs: opts.heartbeatMs }),
    ...claudeConfigured,
  });
};
