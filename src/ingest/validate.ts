// Schema validation outside HTTP (MQTT payloads), with the same error shape Fastify's routes give:
// the first problem, naming the field ("events[3].button").
import { Compile } from 'typebox/compile';
import type { Static, TSchema } from 'typebox';
import { AppError } from '../domain/errors.ts';

export type SchemaIssue = { instancePath?: string; keyword?: string; params?: Record<string, unknown>; message?: string };

/** "/events/3/button" → "events[3].button" */
export function fieldPath(pointer: string): string {
  return pointer.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** One schema issue as the protocol's error, naming the field. */
export function issueToError(issue: SchemaIssue, context: string | undefined): AppError {
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

/** A checker for `schema`: returns the value typed, or throws the first issue as an AppError. */
export function compileChecker<T extends TSchema>(schema: T): (value: unknown) => Static<T> {
  const check = Compile(schema);
  return (value) => {
    if (check.Check(value)) return value as Static<T>;
    const [first] = check.Errors(value) as SchemaIssue[];
    throw first ? issueToError(first, 'body') : new AppError('invalid_field', 'body is invalid', 'body');
  };
}

/**
 * The path of the first string holding a NUL character, or null. PostgreSQL text cannot store NUL
 * and no name, id or reason needs it, so such input is refused up front on every transport.
 */
export function findNul(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || 'body' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findNul(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const hit = findNul(k, path ? `${path}.${k}` : k) ?? findNul(v, path ? `${path}.${k}` : k);
      if (hit) return hit;
    }
  }
  return null;
}

export function rejectNul(value: unknown, path = ''): void {
  const at = findNul(value, path);
  if (at) throw new AppError('invalid_field', `${at} must not contain a NUL character`, at);
}
