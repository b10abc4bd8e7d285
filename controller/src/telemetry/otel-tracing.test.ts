import { describe, expect, it } from 'vitest';
import { tracesUrlOf } from './otel-tracing.ts';

describe('tracesUrlOf', () => {
  it('takes a URL as it is, adding /v1/traces to a bare origin', () => {
    expect(tracesUrlOf('http://collector:4318/v1/traces')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrlOf('https://collector:4318')).toBe('https://collector:4318/v1/traces');
    expect(tracesUrlOf('http://127.0.0.1:9/custom/path')).toBe('http://127.0.0.1:9/custom/path');
  });

  it("reads HOST:PORT as Stromboli's tracing.endpoint: TLS unless insecure", () => {
    expect(tracesUrlOf('collector.monitoring:4318')).toBe('https://collector.monitoring:4318/v1/traces');
    expect(tracesUrlOf('collector.monitoring:4318', true)).toBe('http://collector.monitoring:4318/v1/traces');
    expect(tracesUrlOf('[::1]:4318', true)).toBe('http://[::1]:4318/v1/traces');
  });

  it.each([['collector'], ['ftp://x:1'], ['host:port'], ['']])('refuses %s with a ValidationError naming both forms', (endpoint) => {
    expect(() => tracesUrlOf(endpoint)).toThrow(/must be a URL \(http:\/\/host:4318\/v1\/traces\) or HOST:PORT/);
  });
});
