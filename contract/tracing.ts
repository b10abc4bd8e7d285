// The tracing port: spans for HTTP requests, reconciles and podman calls, and the W3C trace
// context that carries a trace from the facade through the AgentRun (an annotation) to the node
// agent and into the container (TRACEPARENT). Implemented over OpenTelemetry by
// controller/src/telemetry/otel-tracing.ts; noTracing when tracing is off (the default).

/** Span attributes; undefined values are left out. */
export type SpanAttributes = Readonly<Record<string, string | number | boolean | undefined>>;

/** A span started by hand (an HTTP request's, which no single function call encloses). */
export interface SpanHandle {
  /** This span's W3C traceparent (`00-<trace>-<span>-<flags>`); undefined when not recorded. */
  readonly traceparent: string | undefined;
  setAttributes(attributes: SpanAttributes): void;
  /** Ends the span, as failed when `error` is given. */
  end(error?: unknown): void;
  /** Runs `fn` with this span as the current one, so spans started inside are its children. */
  within<T>(fn: () => Promise<T>): Promise<T>;
}

export interface Tracing {
  /**
   * Runs `fn` in a new span: a child of `parent` (a W3C traceparent from another process) when
   * given, else of the current span. The span ends when `fn` settles; a rejection marks it failed.
   */
  inSpan<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>, parent?: string): Promise<T>;
  /** Starts a span that the caller ends; parent as for inSpan. */
  startSpan(name: string, attributes: SpanAttributes, parent?: string): SpanHandle;
  /** The current span's traceparent; undefined outside a span or when tracing is off. */
  traceparent(): string | undefined;
}

const noSpan: SpanHandle = {
  traceparent: undefined,
  setAttributes: () => undefined,
  end: () => undefined,
  within: (fn) => fn(),
};

/** Tracing off: every call runs its function and records nothing. */
export const noTracing: Tracing = {
  inSpan: (_name, _attributes, fn) => fn(),
  startSpan: () => noSpan,
  traceparent: () => undefined,
};

/** The annotation that carries the trace context of the request that created an AgentRun. */
export const TRACEPARENT_ANNOTATION = 'stromboli.dev/traceparent';

/** A W3C traceparent as `traceparent` headers carry it (version 00). */
export const TRACEPARENT_PATTERN = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
