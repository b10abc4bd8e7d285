// Comparing and hashing JSON values whatever their key order: both stores use it to tell a
// no-op spec patch from a real one (only a real one bumps generation), and the file store to
// notice that a manifest's spec changed.

import { createHash } from 'node:crypto';

/** A JSON object (not an array, not null): the values merge patches merge and canonical JSON sorts. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted, so equal specs compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** "sha256:<hex>" of the canonical JSON: kept on disk to notice a manifest spec change across restarts. */
export function canonicalHash(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}
