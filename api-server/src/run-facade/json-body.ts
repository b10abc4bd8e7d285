// Stromboli binds bodies with Gin's ShouldBindJSON, which reads JSON whatever the Content-Type says
// (or without one: the docs' curl examples send none). This parser does the same inside the run
// routes' plugin scope only, and turns an empty or malformed body into Stromboli's 400.
import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../../../contract/errors.ts';

/** Replaces the scope's content-type parsers with one JSON parser for every media type. */
export function acceptJsonWithoutContentType(app: FastifyInstance): void {
  // Fastify's own parser keeps its __proto__ / constructor poisoning protection.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(new ValidationError('Invalid request: EOF'), undefined);
      return;
    }
    parseJson(request, text, (err: Error | null, value?: unknown) => {
      if (err !== null) done(new ValidationError(`Invalid request: ${err.message}`, { cause: err }), undefined);
      else done(null, value);
    });
  });
}
