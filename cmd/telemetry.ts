// Tracing of a server process, from its settings: OpenTelemetry when --tracing-endpoint is set
// (controller/src/telemetry/otel-tracing.ts), nothing otherwise. Wiring only. The SDK is loaded
// only when tracing is on: it costs about 150 ms of every start otherwise.
import type { OtelTracing } from '../controller/src/telemetry/otel-tracing.ts';
import type { ServeConfig } from './config.ts';

/** The process's tracing, or undefined when no endpoint is configured (the default). */
export async function tracingFor(config: Pick<ServeConfig, 'tracingEndpoint' | 'tracingInsecure'>, serviceVersion?: string): Promise<OtelTracing | undefined> {
  if (config.tracingEndpoint === undefined) return undefined;
  const { OtelTracing: Tracing } = await import('../controller/src/telemetry/otel-tracing.ts');
  return new Tracing({ endpoint: config.tracingEndpoint, insecure: config.tracingInsecure === 'on', ...(serviceVersion === undefined ? {} : { serviceVersion }) });
}
