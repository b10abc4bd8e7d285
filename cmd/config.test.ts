import { describe, expect, it } from 'vitest';
import { parseHostPort, ServeConfigSchema, webhookSettingsFrom, workersFor } from './config.ts';

describe('serve configuration', () => {
  it('reads webhook settings from the environment only', () => {
    expect(webhookSettingsFrom({})).toEqual({ allowPrivateTargets: false });
    expect(webhookSettingsFrom({ STROMBOLI_WEBHOOK_SIGNING_SECRET: 's3cret-value', STROMBOLI_WEBHOOK_ALLOW_PRIVATE: 'true' })).toEqual({ signingSecret: 's3cret-value', allowPrivateTargets: true });
    expect(webhookSettingsFrom({ STROMBOLI_WEBHOOK_SIGNING_SECRET: '' })).toEqual({ allowPrivateTargets: false });
  });

  it('splits a metrics address, IPv6 brackets included', () => {
    expect(parseHostPort('127.0.0.1:9090')).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(parseHostPort('[::1]:9091')).toEqual({ host: '::1', port: 9091 });
    expect(ServeConfigSchema.safeParse({ metricsAddress: 'no-port' }).success).toBe(false);
  });

  it('answers 0.5.7 shapes by default, takes 0.3 or 0.4 and refuses a version it does not answer', () => {
    expect(ServeConfigSchema.parse({}).stromboliApiVersion).toBe('0.5.7');
    expect(ServeConfigSchema.parse({ stromboliApiVersion: '0.3.0-alpha' }).stromboliApiVersion).toBe('0.3.0-alpha');
    expect(ServeConfigSchema.safeParse({ stromboliApiVersion: '1.0' }).error?.issues[0]?.message).toMatch(/0\.3, 0\.4 or 0\.5/);
  });

  it('has no image registry by default and takes HOST[:PORT] only, never a URL or a path', () => {
    expect(ServeConfigSchema.parse({})).toMatchObject({ imageRegistryInsecure: 'off' });
    expect(ServeConfigSchema.parse({}).imageRegistry).toBeUndefined();
    expect(ServeConfigSchema.parse({ imageRegistry: '127.0.0.1:5000' }).imageRegistry).toBe('127.0.0.1:5000');
    expect(ServeConfigSchema.parse({ imageRegistry: 'registry.internal' }).imageRegistry).toBe('registry.internal');
    for (const bad of ['http://127.0.0.1:5000', '127.0.0.1:5000/stromboli', '-x', '']) expect(ServeConfigSchema.safeParse({ imageRegistry: bad }).success, bad).toBe(false);
  });

  it('gives a node agent at least one reconcile worker per slot unless told otherwise', () => {
    expect(workersFor({ maxConcurrentRuns: 32 })).toBe(32);
    expect(workersFor({ maxConcurrentRuns: 2 })).toBe(16);
    expect(workersFor({ maxConcurrentRuns: 500 })).toBe(64);
    expect(workersFor({ maxConcurrentRuns: 8, workers: 2 })).toBe(2);
  });
});
