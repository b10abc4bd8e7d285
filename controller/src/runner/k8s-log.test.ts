import { afterEach, describe, expect, it } from 'vitest';
import { clearSecretValues, registerSecretValue } from '../../../contract/redact.ts';
import { K8sLogDecoder, parseK8sLog } from './k8s-log.ts';

afterEach(() => clearSecretValues());

describe('parseK8sLog', () => {
  it('splits streams, joins partial records with the next record of the same stream, keeps empty lines', () => {
    const text = [
      '2026-12-08T00:14:38.690613095+00:00 stdout F {"type":"system"}',
      '2026-12-08T00:14:38.690613096+00:00 stdout P {"type":"assi',
      '2026-12-08T00:14:38.690613097+00:00 stderr F warning',
      '2026-12-08T00:14:38.690613098+00:00 stdout F stant"}',
      '2026-12-08T00:14:38.690613099+00:00 stdout F ',
      '',
    ].join('\n');
    expect(parseK8sLog(text)).toEqual({ stdout: ['{"type":"system"}', '{"type":"assistant"}', ''], stderr: ['warning'] });
  });

  it('keeps a partial line the file ended with, and skips records it cannot read', () => {
    expect(parseK8sLog('t stdout P tail-without-newline\ngarbage\nt other F x')).toEqual({ stdout: ['tail-without-newline'], stderr: [] });
  });

  it('scrubs known secret values at read time (conmon wrote what the container printed)', () => {
    registerSecretValue('sk-ant-secret-0123456789');
    const decoder = new K8sLogDecoder();
    expect(decoder.push('t stdout F key sk-ant-secret-0123456789')).toEqual({ stream: 'stdout', text: 'key ***' });
    expect(parseK8sLog('t stderr F sk-ant-secret-0123456789').stderr).toEqual(['***']);
  });
});
