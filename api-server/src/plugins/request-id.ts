// X-Request-ID: echoed when the client sent a sane one, otherwise 16 random hex characters (as
// Stromboli does); set on every response, and carried by every log line of the request.
import { randomHex } from '../../../contract/random-hex.ts';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify's genReqId: the request's own id when it is sane, else a new one. */
export function requestIdFor(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  if (typeof given === 'string' && SANE_ID.test(given)) return given;
  return randomHex(8);
}

export function registerRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-ID', request.id);
  });
}
