// Turns every failure into the protocol's error object, naming the field where there is one.
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError } from '../domain/errors.ts';
import { issueToError, type SchemaIssue } from '../ingest/validate.ts';

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { validation?: SchemaIssue[]; validationContext?: string }, req, reply) => {
    let e: AppError;
    if (err instanceof AppError) e = err;
    else if (err.validation?.length) e = issueToError(err.validation[0]!, err.validationContext);
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new AppError('body_too_large', `body exceeds the limit of ${req.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit} bytes`);
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new AppError('unsupported_media_type', 'send the body as application/json');
    else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') e = new AppError('invalid_json', 'the body is empty; send a JSON object', 'body');
    else if (err.statusCode === 400) e = new AppError('invalid_json', `the body is not valid JSON: ${err.message}`, 'body');
    else if (err.statusCode && err.statusCode < 500) e = new AppError(err.statusCode === 404 ? 'not_found' : err.statusCode === 429 ? 'rate_limited' : 'forbidden', err.message);
    else {
      req.log.error({ err }, 'request failed');
      e = new AppError('internal', 'internal error; it has been logged');
    }
    if (e.retryAfterSeconds !== undefined) void reply.header('retry-after', String(e.retryAfterSeconds));
    void reply.status(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(new AppError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`).toJSON());
  });
}
