// For the run family's unit tests only: an app over a status-writable store with the fake
// controller and fake logs running, either the whole buildApp or just the run family plugin (to
// reach its test options: webhook transport, DNS, heartbeat), plus an SSE body parser.
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { buildApp } from '../app.ts';
import { registerErrorHandling } from '../plugins/error-handler.ts';
import { registerRequestId, requestIdFor } from '../plugins/request-id.ts';
import type { Ports } from '../../../contract/ports.ts';
import { FakeLogReader, FakeRunController } from './fake-run-controller.ts';
import type { StatusStore } from './fake-run-controller.ts';
import { runFamily } from './run-family.ts';
import type { RunFamilyOptions } from './run-family.ts';
import type { WebhookDispatcher } from './webhook-dispatcher.ts';

export interface TestBed {
  app: FastifyInstance;
  logs: FakeLogReader;
  controller: FakeRunController;
  /** Set when the bed was built with `family` options. */
  dispatcher?: WebhookDispatcher;
  close(): Promise<void>;
}

export interface TestBedOptions {
  store: StatusStore;
  /** Extra ports for buildApp. */
  ports?: Partial<Omit<Ports, 'runs' | 'logs'>>;
  /** When set, the app is the run family plugin alone, with these options. */
  family?: Partial<Omit<RunFamilyOptions, 'runs' | 'logs'>>;
  /** Start the fake controller. Default true (false leaves runs Pending). */
  controller?: boolean;
  bodyLimit?: number;
}

export async function startTestBed(options: TestBedOptions): Promise<TestBed> {
  const logs = new FakeLogReader();
  const controller = new FakeRunController({ store: options.store, logs });
  if (options.controller !== false) controller.start();
  let dispatcher: WebhookDispatcher | undefined;
  let app: FastifyInstance;
  if (options.family === undefined) {
    app = await buildApp({ runs: options.store, logs, ...options.ports }, options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit });
  } else {
    app = Fastify({ logger: false, genReqId: requestIdFor, ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }) }) as unknown as FastifyInstance;
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    registerRequestId(app);
    registerErrorHandling(app);
    await app.register(runFamily, {
      namespace: 'default',
      ...options.family,
      runs: options.store,
      logs,
      onDispatcher: (d) => {
        dispatcher = d;
      },
    });
  }
  await app.ready();
  return {
    app,
    logs,
    controller,
    ...(dispatcher === undefined ? {} : { dispatcher }),
    async close() {
      await app.close();
      await controller.stop();
    },
  };
}

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Splits an event-stream body into frames (blank-line separated), joining multi-line data with "\n". */
export function parseSse(body: string): SseFrame[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const frame: SseFrame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim();
        else if (line.startsWith('id: ')) frame.id = line.slice(4);
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = frame.data === undefined ? line.slice(6) : `${frame.data}\n${line.slice(6)}`;
      }
      return frame;
    });
}

/** The frames a client acts on: parseSse without the keep-alive comment blocks. */
export function sseEvents(body: string): SseFrame[] {
  return parseSse(body).filter((frame) => frame.id !== undefined || frame.event !== undefined || frame.data !== undefined);
}
