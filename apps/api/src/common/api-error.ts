import { HttpException, HttpStatus } from '@nestjs/common';

/** One reason a request was refused, naming the offending field (dot path, array indices as segments). */
export interface FieldError {
  readonly field: string;
  readonly reason: string;
}

/** Every 4xx/5xx body: Nest's usual shape plus the field list. */
export interface ErrorBody {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly errors: readonly FieldError[];
  readonly [extra: string]: unknown;
}

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? HttpStatus[status]?.replace(/_/g, ' ') ?? 'Error';
}

/** An HTTP error with the standard body; `extra` adds machine-readable details (e.g. missing signature keys). */
export class ApiError extends HttpException {
  constructor(
    status: number,
    message: string,
    errors: readonly FieldError[] = [],
    extra: Record<string, unknown> = {},
  ) {
    const body: ErrorBody = { statusCode: status, error: reasonPhrase(status), message, errors, ...extra };
    super(body, status);
  }
}

export function badRequest(field: string, reason: string): ApiError {
  return new ApiError(400, `${field}: ${reason}`, [{ field, reason }]);
}

export function notFound(what: string, field?: string): ApiError {
  return new ApiError(404, what, field ? [{ field, reason: what }] : []);
}
