// Optional properties under exactOptionalPropertyTypes: a property that is `undefined` must be
// left out, not set to undefined. compact() does that once, instead of a conditional spread
// (`...(x === undefined ? {} : { x })`) at every optional field.

/** T with every property that may be undefined made optional, without undefined. */
export type Compact<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** A copy of `value` without its undefined properties (null, '', 0 and false are kept). */
export function compact<T extends object>(value: T): Compact<T> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = item;
  return out as Compact<T>;
}
