// Tracing over OpenTelemetry (the @opentelemetry packages live only here): a TracerProvider of
// this process with a batch span processor and the OTLP/HTTP exporter (JSON), W3C trace context
// to carry a trace across processes, AsyncLocalStorage so spans started inside a span are its
// children. Off unless an endpoint is configured (docs/operations.md, "Tracing").
import { ROOT_CONTEXT, SpanStatusCode, context, defaultTextMapGetter, defaultTextMapSetter, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ValidationError } from '../../../contract/errors.ts';
import { scrub } from '../../../contract/redact.ts';
import type { SpanAttributes, SpanHandle, Tracing } from '../../../contract/tracing.ts';
import { TRACEPARENT_PATTERN } from '../../../contract/tracing.ts';

export interface OtelTracingOptions {
  /**
   * Where spans go: an OTLP/HTTP traces URL (`http://collector:4318/v1/traces`), or HOST:PORT as
   * Stromboli's `tracing.endpoint` is written (then https, or http with `insecure`, and /v1/traces).
   */
  endpoint: string;
  /** With a HOST:PORT endpoint: plain http instead of TLS (Stromboli's `tracing.insecure`). Default false. */
  insecure?: boolean;
  /** The resource's service.name. Default 'stromboli'. */
  serviceName?: string;
  /** The resource's service.version. */
  serviceVersion?: string;
  /** Longest wait between exports in ms. Default 5000 (the SDK's). */
  exportDelayMs?: number;
}

/** The exporter URL of an endpoint setting; ValidationError for one that is neither a URL nor HOST:PORT. */
export function tracesUrlOf(endpoint: string, insecure = false): string {
  if (/^https?:\/\//.test(endpoint)) {
    const url = new URL(endpoint);
    return url.pathname === '/' ? new URL('/v1/traces', url).href : url.href;
  }
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(endpoint)) {
    throw new ValidationError(`tracing endpoint "${endpoint}" must be a URL (http://host:4318/v1/traces) or HOST:PORT`);
  }
  return `${insecure ? 'http' : 'https'}://${endpoint}/v1/traces`;
}

let contextManagerEnabled = false;

/** Tracing on: spans of this process exported over OTLP/HTTP. shutdown() flushes what is left. */
export class OtelTracing implements Tracing {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;
  readonly #propagator = new W3CTraceContextPropagator();

  constructor(options: OtelTracingOptions) {
    if (!contextManagerEnabled) {
      // One per process: what makes a span started inside another its child.
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      contextManagerEnabled = true;
    }
    const exporter = new OTLPTraceExporter({ url: tracesUrlOf(options.endpoint, options.insecure) });
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'stromboli', ...(options.serviceVersion === undefined ? {} : { 'service.version': options.serviceVersion }) }),
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: options.exportDelayMs ?? 5000 })],
    });
    this.#tracer = this.#provider.getTracer('stromboli');
  }

  inSpan<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>, parent?: string): Promise<T> {
    return this.#tracer.startActiveSpan(name, { attributes: clean(attributes) }, this.#parentContext(parent), async (span) => {
      try {
        return await fn();
      } catch (err) {
        fail(span, err);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  startSpan(name: string, attributes: SpanAttributes, parent?: string): SpanHandle {
    const span = this.#tracer.startSpan(name, { attributes: clean(attributes) }, this.#parentContext(parent));
    const spanContext = trace.setSpan(context.active(), span);
    return {
      traceparent: this.#traceparentOf(spanContext),
      setAttributes: (more) => {
        span.setAttributes(clean(more));
      },
      end: (error) => {
        if (error !== undefined) fail(span, error);
        span.end();
      },
      within: (fn) => context.with(spanContext, fn),
    };
  }

  traceparent(): string | undefined {
    return trace.getSpan(context.active()) === undefined ? undefined : this.#traceparentOf(context.active());
  }

  /** Exports what is buffered, then stops. */
  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }

  /** Exports what is buffered now (tests read the spans right after). */
  async flush(): Promise<void> {
    await this.#provider.forceFlush();
  }

  #parentContext(parent: string | undefined): Context {
    if (parent === undefined || !TRACEPARENT_PATTERN.test(parent)) return context.active();
    return this.#propagator.extract(ROOT_CONTEXT, { traceparent: parent }, defaultTextMapGetter);
  }

  #traceparentOf(spanContext: Context): string | undefined {
    const carrier: Record<string, string> = {};
    this.#propagator.inject(spanContext, carrier, defaultTextMapSetter);
    return carrier['traceparent'];
  }
}

function clean(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}

/** Marks the span failed; the message is scrubbed of known secret values, like every log line. */
function fail(span: Span, err: unknown): void {
  const message = scrub(err instanceof Error ? err.message : String(err));
  span.recordException({ name: err instanceof Error ? err.name : 'Error', message });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
