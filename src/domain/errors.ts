// Every error the API can answer is defined here once, with its code and HTTP status
// (PROTOCOL.md: { "error": { "code", "message", "field"? } }).
export const ERROR_STATUS = {
  invalid_field: 400,
  invalid_json: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  body_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(code: ErrorCode, message: string, field?: string, retryAfterSeconds?: number) {
    super(message);
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.field = field;
    this.retryAfterSeconds = retryAfterSeconds;
  }
  toJSON(): { error: { code: ErrorCode; message: string; field?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) } };
  }
}

export const invalidField = (field: string, message: string): AppError => new AppError('invalid_field', message, field);
export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);
export const forbidden = (message = 'not allowed for these credentials'): AppError => new AppError('forbidden', message);
export const unauthorized = (message = 'missing or invalid credentials'): AppError => new AppError('unauthorized', message);
export const conflict = (message: string, field?: string): AppError => new AppError('conflict', message, field);
