// Tracing of a server process, from its settings: OpenTelemetry when --tracing-endpoint is set
// (controller/src/telemetry/otel-tracing.ts), nothing otherwise. Wiring only.
import { OtelTracing } from '../controller/src/telemetry/otel-tracing.ts';
import type { ServeConfig } from './config.ts';

/** The process's tracing, or undefined when no endpoint is configured (the default). */
export function tracingFor(config: Pick<ServeConfig, 'tracingEndpoint' | 'tracingInsecure'>, serviceVersion?: string): OtelTracing | undefined {
  if (config.tracingEndpoint === undefined) return undefined;
  return new OtelTracing({ endpoint: config.tracingEndpoint, insecure: config.tracingInsecure === 'on', ...(serviceVersion === undefined ? {} : { serviceVersion }) });
}
