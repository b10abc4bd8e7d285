// JSON merge patch for patchSpec(), shared by both stores so they merge alike.

import { isPlainObject } from './canonical-json.ts';

/**
 * RFC 7386 JSON merge patch: objects merge, null deletes a key, anything else replaces.
 * Returns a new value; neither argument is changed or shared with the result.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = {};
  if (isPlainObject(target)) for (const [key, value] of Object.entries(target)) setOwn(result, key, structuredClone(value));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setOwn(result, key, applyMergePatch(result[key], value));
  }
  return result;
}

/** Defines rather than assigns, so a key named "__proto__" stays data. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
