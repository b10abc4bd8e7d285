// A span for every HTTP request (the Tracing port, contract/tracing.ts; off by default): named
// `<METHOD> <route pattern>` as the HTTP semantic conventions name server spans, a child of the
// client's `traceparent` header when it sends one. The routes that create an AgentRun put the
// request span's traceparent in the run's annotations, so the node agent's spans join the trace.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SpanHandle, Tracing } from '../../../contract/tracing.ts';

const spans = new WeakMap<FastifyRequest, SpanHandle>();

/** Starts a span on each request and ends it with the response. */
export function registerTracing(app: FastifyInstance, tracing: Tracing): void {
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const header = request.headers['traceparent'];
    const parent = typeof header === 'string' ? header : undefined;
    spans.set(request, tracing.startSpan(`${request.method} ${route}`, { 'http.request.method': request.method, 'http.route': route, 'url.path': request.url.split('?')[0], 'http.request.id': request.id }, parent));
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request);
    if (span === undefined) return;
    span.setAttributes({ 'http.response.status_code': reply.statusCode });
    span.end(reply.statusCode >= 500 ? new Error(`HTTP ${reply.statusCode}`) : undefined);
    spans.delete(request);
  });
}

/** The traceparent of the request's span: what a run created for this request carries. */
export function traceparentOf(request: FastifyRequest): string | undefined {
  return spans.get(request)?.traceparent;
}
