// Turns every failure into the protocol's error object, naming the field where there is one.
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError } from '../domain/errors.ts';

type SchemaIssue = { instancePath?: string; keyword?: string; params?: Record<string, unknown>; message?: string };

/** "/events/3/button" → "events[3].button" */
export function fieldPath(pointer: string): string {
  return pointer.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function describe(issue: SchemaIssue, context: string | undefined): AppError {
  const params = issue.params ?? {};
  let field = fieldPath(issue.instancePath ?? '');
  const missing = (params['requiredProperties'] as string[] | undefined)?.[0] ?? (params['missingProperty'] as string | undefined);
  if (issue.keyword === 'required' && missing) field = field ? `${field}.${missing}` : missing;
  const name = field || context || 'body';
  let message = `${name} ${issue.message ?? 'is invalid'}`;
  if (issue.keyword === 'required') message = `${name} is required`;
  if (issue.keyword === 'enum' && Array.isArray(params['allowedValues'])) message = `${name} must be one of: ${(params['allowedValues'] as unknown[]).join(', ')}`;
  if (issue.keyword === 'additionalProperties') {
    const extra = (params['additionalProperties'] as string[] | undefined)?.[0] ?? params['additionalProperty'];
    if (extra) { field = field ? `${field}.${extra}` : String(extra); message = `${field} is not a known field`; }
  }
  return new AppError('invalid_field', message, field || name);
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { validation?: SchemaIssue[]; validationContext?: string }, req, reply) => {
    let e: AppError;
    if (err instanceof AppError) e = err;
    else if (err.validation?.length) e = describe(err.validation[0]!, err.validationContext);
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
