// Errors raised by the cross-cutting hooks in front of the routes (rate limit, auth). Stromboli's
// middleware answers them `{"error": "..."}` on every route, whatever the route family's own
// error envelope is, so the error handler renders them that way.
import { AppError } from '../../../contract/errors.ts';
import type { ErrorCode } from '../../../contract/errors.ts';
import { z } from 'zod';

export class EdgeError extends AppError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

/** The body of every EdgeError answer. */
export const EdgeErrorBodySchema = z.object({ error: z.string() }).describe('Error from the auth or rate-limit layer.');
