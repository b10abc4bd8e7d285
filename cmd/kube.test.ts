import { describe, expect, it } from 'vitest';
import { leaseNamespaceOf, logAdvertiseUrlOf } from './kube.ts';

describe('the log endpoint address a node agent records in status.logRef', () => {
  it('is the advertise URL when given, else the pod IP for a wildcard host, else the host', () => {
    expect(logAdvertiseUrlOf({ logAdvertiseUrl: 'https://node-a.logs.example/' }, '0.0.0.0', 8586, {})).toBe('https://node-a.logs.example');
    expect(logAdvertiseUrlOf({}, '0.0.0.0', 8586, { POD_IP: '10.0.3.7' })).toBe('http://10.0.3.7:8586');
    expect(logAdvertiseUrlOf({}, '::', 8586, { POD_IP: 'fd00::7' })).toBe('http://[fd00::7]:8586');
    expect(logAdvertiseUrlOf({}, '127.0.0.1', 40123, {})).toBe('http://127.0.0.1:40123');
  });

  it('refuses a wildcard host without a pod IP, naming the way out', () => {
    expect(() => logAdvertiseUrlOf({}, '0.0.0.0', 8586, {})).toThrow(/pass --log-advertise-url or set POD_IP/);
  });
});

describe('the namespace of a node agent\'s Leases', () => {
  it('is the flag, else $POD_NAMESPACE, else default', () => {
    expect(leaseNamespaceOf({ leaseNamespace: 'ops' }, { POD_NAMESPACE: 'stromboli' })).toBe('ops');
    expect(leaseNamespaceOf({}, { POD_NAMESPACE: 'stromboli' })).toBe('stromboli');
    expect(leaseNamespaceOf({}, { POD_NAMESPACE: '' })).toBe('default');
    expect(leaseNamespaceOf({}, {})).toBe('default');
  });

  it('refuses a name that is not a namespace, naming the flag', () => {
    expect(() => leaseNamespaceOf({ leaseNamespace: 'Not_A_Namespace' }, {})).toThrow(/--lease-namespace/);
  });
});
