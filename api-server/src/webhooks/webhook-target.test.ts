import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, isPrivateAddress } from './webhook-target.ts';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '0.0.0.0',
    '10.0.0.1',
    '100.64.0.1',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '198.18.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    'fe80::1',
    'fe80::1%eth0',
    'fd00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '0:0:0:0:0:ffff:a00:1',
    '64:ff9b::7f00:1',
    '::127.0.0.1',
    'localhost',
    'not an address',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:93.184.216.34', '2001:4860:4860::8888'])('allows %s', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('checkWebhookUrl', () => {
  const publicDns = async () => ['93.184.216.34'];

  it('accepts a public http(s) target and returns the parsed URL', async () => {
    const url = await checkWebhookUrl('https://hooks.example.com/x?y=1', { allowPrivate: false, resolveHost: publicDns });
    expect(url.href).toBe('https://hooks.example.com/x?y=1');
  });

  it('refuses a name that resolves to any private address (one bad answer is enough)', async () => {
    await expect(checkWebhookUrl('http://mixed.example.com/', { allowPrivate: false, resolveHost: async () => ['93.184.216.34', '10.0.0.1'] })).rejects.toThrow(
      'Invalid request: webhook_url: mixed.example.com is a loopback, link-local or private address; such targets need allowPrivateWebhooks',
    );
  });

  it('refuses a name that resolves to nothing', async () => {
    await expect(checkWebhookUrl('http://empty.example.com/', { allowPrivate: false, resolveHost: async () => [] })).rejects.toThrow('cannot resolve empty.example.com');
  });

  it('allows anything http(s) when private targets are allowed, without resolving', async () => {
    const url = await checkWebhookUrl('http://localhost:1/x', { allowPrivate: true, resolveHost: async () => Promise.reject(new Error('not called')) });
    expect(url.hostname).toBe('localhost');
    await expect(checkWebhookUrl('file:///etc/passwd', { allowPrivate: true, resolveHost: publicDns })).rejects.toThrow(/must be an absolute http or https URL/);
  });

  it('refuses URLs over 2048 characters', async () => {
    await expect(checkWebhookUrl(`https://example.com/${'a'.repeat(2100)}`, { allowPrivate: true, resolveHost: publicDns })).rejects.toThrow(/at most 2048/);
  });
});
