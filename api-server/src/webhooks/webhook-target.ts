// Which webhook targets may be called. Stromboli calls any URL, which lets a client make the
// server reach loopback services, cloud metadata (169.254.169.254) or the private network (SSRF).
// Here such targets are refused unless the operator allows them: at submit time (400) and again at
// delivery, on the address the connection actually uses (a DNS answer can change in between).
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, isIPv4 } from 'node:net';
import type { LookupFunction } from 'node:net';
import { ValidationError } from '../../../contract/errors.ts';

/** Resolves a host name to every address it has. */
export type ResolveHost = (hostname: string) => Promise<string[]>;

export const systemResolveHost: ResolveHost = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address))));
  });

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['64:ff9b::', 96], // NAT64: would reach the IPv4 ranges above
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The eight 16-bit groups of an IPv6 address (with "::" and a trailing dotted quad expanded). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [, a = '0', b = '0', c = '0', d = '0'] = dotted;
    text = `${text.slice(0, dotted.index)}${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const split = (part: string | undefined): string[] => (part === undefined || part === '' ? [] : part.split(':'));
  const head = split(halves[0]);
  const tail = split(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0) return undefined;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail].map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16) : Number.NaN));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g)) ? groups : undefined;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d, also written ::ffff:7f00:1). */
function mappedIPv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (g === undefined || !g.slice(0, 5).every((x) => x === 0) || g[5] !== 0xffff) return undefined;
  const high = g[6] ?? 0;
  const low = g[7] ?? 0;
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** True for loopback, link-local, private, reserved and multicast addresses (and for anything that is not an IP). */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIPv4(bare)) return blocked.check(bare, 'ipv4');
  if (isIP(bare) !== 6) return true;
  const v4 = mappedIPv4(bare);
  return v4 === undefined ? blocked.check(bare, 'ipv6') : blocked.check(v4, 'ipv4');
}

export interface WebhookTargetPolicy {
  /** Allow loopback, link-local and private targets. Default false. */
  allowPrivate: boolean;
  resolveHost: ResolveHost;
}

function refuse(message: string): ValidationError {
  return new ValidationError(`Invalid request: webhook_url: ${message}`);
}

/** Why: submit-time check of `webhook_url` (400 on refusal), so a bad target never becomes a job. */
export async function checkWebhookUrl(raw: string, policy: WebhookTargetPolicy): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('must be an absolute http or https URL');
  if (raw.length > 2048) throw refuse('must be at most 2048 characters');
  if (policy.allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = await policy.resolveHost(host);
    } catch {
      throw refuse(`cannot resolve ${host}`);
    }
  }
  if (addresses.length === 0) throw refuse(`cannot resolve ${host}`);
  if (addresses.some(isPrivateAddress)) {
    throw refuse(`${host} is a loopback, link-local or private address; such targets need allowPrivateWebhooks`);
  }
  return url;
}

/**
 * Why: the delivery-time guard. Given to http.request as `lookup`, so the address checked is the
 * address connected to. Handles both callback forms (Node asks for `all` when it races families).
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) {
      callback(err, '', 0);
      return;
    }
    const refused = addresses.find((a) => isPrivateAddress(a.address));
    const first = addresses[0];
    if (refused !== undefined || first === undefined) {
      const error: NodeJS.ErrnoException = new Error(`webhook target ${hostname} resolves to a private or unusable address`);
      error.code = 'EWEBHOOKTARGET';
      callback(error, '', 0);
      return;
    }
    if (options.all === true) callback(null, addresses);
    else callback(null, first.address, first.family);
  });
};
