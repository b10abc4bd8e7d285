// For the run family's unit tests: an app over a MemoryStore with the real controller running
// (runController and the AgentRunReconciler over a FakeAgentRunner playing agent-script.ts), and
// a LogReader over what the fake containers printed. The app is either the whole buildApp or just
// the run family plugin (to reach its test options: webhook transport, DNS, heartbeat).
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { isTerminalPhase } from '../../../contract/apis/v1alpha1/index.ts';
import type { AgentRunStatus } from '../../../contract/apis/v1alpha1/index.ts';
import type { Ports } from '../../../contract/ports.ts';
import type { MemoryStore } from '../../../contract/store/memory-store.ts';
import { keyOf } from '../../../contract/store/store.ts';
import { AgentRunReconciler } from '../../../controller/src/agentrun/reconciler.ts';
import { Slots } from '../../../controller/src/agentrun/slots.ts';
import { runController } from '../../../controller/src/reconcile/controller.ts';
import type { ControllerHandle } from '../../../controller/src/reconcile/controller.ts';
import { FakeLogger } from '../../../controller/src/reconcile/fake-logger.ts';
import { FakeAgentRunner } from '../../../controller/src/runner/fake-runner.ts';
import type { FakeEnding } from '../../../controller/src/runner/fake-runner.ts';
import { Labels } from '../../../controller/src/runner/names.ts';
import { buildApp } from '../../src/app.ts';
import { registerErrorHandling } from '../../src/plugins/error-handler.ts';
import { registerRequestId, requestIdFor } from '../../src/plugins/request-id.ts';
import { runFamily } from '../../src/routes/run-family.ts';
import type { RunFamilyOptions } from '../../src/routes/run-family.ts';
import type { WebhookDispatcher } from '../../src/webhooks/webhook-dispatcher.ts';
import { agentScript } from './agent-script.ts';
import { RunnerLogReader } from './runner-log-reader.ts';
import { compact } from '../../../contract/compact.ts';

export interface TestBed {
  app: FastifyInstance;
  runner: FakeAgentRunner;
  logs: RunnerLogReader;
  /** Set when the bed was built with `family` options. */
  dispatcher?: WebhookDispatcher;
  /** Ends the running container of run `name` with `ending`, and waits until the controller recorded the end. */
  finish(name: string, ending: FakeEnding, namespace?: string): Promise<void>;
  close(): Promise<void>;
}

export interface TestBedOptions {
  store: MemoryStore<AgentRunStatus>;
  /** Extra ports for buildApp. */
  ports?: Partial<Omit<Ports, 'runs' | 'logs'>>;
  /** When set, the app is the run family plugin alone, with these options. */
  family?: Partial<Omit<RunFamilyOptions, 'runs' | 'logs'>>;
  /** Start the controller. Default true (false leaves runs Pending). */
  controller?: boolean;
  /** Runs before the controller starts, e.g. to start containers it will find and adopt. */
  beforeStart?: (runner: FakeAgentRunner) => Promise<void>;
  bodyLimit?: number;
}

/** How long finish() waits for the controller to record a run's end. */
const FINISH_TIMEOUT_MS = 5_000;

export async function startTestBed(options: TestBedOptions): Promise<TestBed> {
  const { store } = options;
  const loop: { controller?: ControllerHandle } = {};
  const runner = new FakeAgentRunner({ script: agentScript, onOutputEnd: (run) => loop.controller?.enqueue(keyOf(run)) });
  const logs = new RunnerLogReader({ runner, store });
  await options.beforeStart?.(runner);
  if (options.controller !== false) {
    const slots = new Slots({ limit: 16, wake: (keys) => keys.forEach((key) => loop.controller?.enqueue(key)) });
    const reconciler = new AgentRunReconciler({ store, runner, slots });
    loop.controller = runController({ store, reconciler, log: new FakeLogger() });
  }
  let dispatcher: WebhookDispatcher | undefined;
  let app: FastifyInstance;
  if (options.family === undefined) {
    app = await buildApp({ runs: store, logs, ...options.ports }, options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit });
  } else {
    app = Fastify({ logger: false, genReqId: requestIdFor, ...compact({ bodyLimit: options.bodyLimit }) }) as unknown as FastifyInstance;
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    registerRequestId(app);
    registerErrorHandling(app);
    await app.register(runFamily, {
      namespace: 'default',
      ...options.family,
      runs: store,
      logs,
      onDispatcher: (d) => {
        dispatcher = d;
      },
    });
  }
  await app.ready();

  const finish = async (name: string, ending: FakeEnding, namespace = 'default'): Promise<void> => {
    const { uid } = (await store.get({ namespace, name })).metadata;
    const running = (await runner.listManaged()).find((c) => c.running && c.labels[Labels.uid] === uid);
    if (running === undefined) throw new Error(`run ${namespace}/${name} has no running container`);
    runner.finish(running.name, ending);
    for (const deadline = Date.now() + FINISH_TIMEOUT_MS; Date.now() < deadline; await sleep(5)) {
      if (isTerminalPhase((await store.get({ namespace, name })).status?.phase)) return;
    }
    throw new Error(`the controller did not record the end of ${namespace}/${name}`);
  };

  return {
    app,
    runner,
    logs,
    finish,
    ...compact({ dispatcher }),
    async close() {
      await app.close();
      await loop.controller?.stop();
    },
  };
}
