import { describe, expect, it } from 'vitest';
import { checkAdvertiseUrl, logBaseOf, logUrlOf } from './log-ref.ts';

const run = { namespace: 'team-a', name: 'job-1', uid: '0b6c-11' };

describe('logRef URLs', () => {
  it('builds an attempt URL under the base and reads the base back', () => {
    const url = logUrlOf('http://10.0.3.7:8586/', run, 2);
    expect(url).toBe('http://10.0.3.7:8586/logs/team-a/job-1/0b6c-11/attempts/2');
    expect(logBaseOf(url)).toBe('http://10.0.3.7:8586');
    expect(logBaseOf(logUrlOf('https://agents.example/node-1', run, 1))).toBe('https://agents.example/node-1');
  });

  it('reads no base from a local path, another scheme or another path', () => {
    expect(logBaseOf('/var/lib/stromboli/logs/team-a/job-1/0b6c-11/attempt-1.jsonl')).toBeUndefined();
    expect(logBaseOf('file:///logs/a/b/c/attempts/1')).toBeUndefined();
    expect(logBaseOf('http://10.0.3.7:8586/other')).toBeUndefined();
    expect(logBaseOf(undefined)).toBeUndefined();
  });

  it('refuses an advertise URL that is not plain http(s)', () => {
    expect(checkAdvertiseUrl('http://[fd00::7]:8586/')).toBe('http://[fd00::7]:8586');
    expect(() => checkAdvertiseUrl('10.0.3.7:8586')).toThrow(RangeError);
    expect(() => checkAdvertiseUrl('http://u:p@10.0.3.7:8586')).toThrow(/without query, fragment or credentials/);
    expect(() => checkAdvertiseUrl('http://10.0.3.7:8586?x=1')).toThrow(RangeError);
  });
});
