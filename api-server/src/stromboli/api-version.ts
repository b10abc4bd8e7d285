// Which Stromboli answer shapes a request gets (docs/compatibility.md, "Clients of older
// Stromboli versions"). 0.5.7's shapes are the default. Clients written for 0.3/0.4 (the
// published SDKs lag the server) expect `GET /sessions` and `GET /secrets` as lists of strings:
// they ask with the X-Stromboli-Api-Version header, or the server is started with
// --stromboli-api-version 0.3 for clients that cannot send a header.
import { ValidationError } from '../../../contract/errors.ts';

/** The Stromboli release whose HTTP API this facade follows (../shared/reference/stromboli.md is its contract). */
export const STROMBOLI_API_VERSION = '0.5.7' as const;

/** The two shape sets: 0.3 and 0.4 answered alike (they list names), 0.5 lists objects. */
export type ApiShapes = 'v0.3' | 'v0.5';

/** The request header a client names its Stromboli API version with, e.g. `0.3.0-alpha`. */
export const API_VERSION_HEADER = 'x-stromboli-api-version';

/** The shapes for a Stromboli version such as `0.3`, `0.4.2` or `0.5.7`; ValidationError for any other. */
export function shapesFor(version: string): ApiShapes {
  const match = /^v?0\.(\d{1,3})(\.\d{1,4})?(-[0-9A-Za-z.-]{1,32})?$/.exec(version.trim());
  const minor = match === null ? undefined : Number(match[1]);
  if (minor === 3 || minor === 4) return 'v0.3';
  if (minor === 5) return 'v0.5';
  throw new ValidationError(`unsupported Stromboli API version "${version.slice(0, 64)}": this server answers the shapes of 0.3, 0.4 and 0.5`);
}

/** Whether shapesFor answers `version` (a config check). */
export function isAnsweredVersion(version: string): boolean {
  try {
    shapesFor(version);
    return true;
  } catch {
    return false;
  }
}

/** The shapes one request gets: its header when it sends one, else the server's setting. */
export function requestShapes(headers: Readonly<Record<string, string | string[] | undefined>>, serverDefault: ApiShapes): ApiShapes {
  const asked = headers[API_VERSION_HEADER];
  const value = Array.isArray(asked) ? asked[0] : asked;
  return value === undefined || value === '' ? serverDefault : shapesFor(value);
}
