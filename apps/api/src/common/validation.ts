import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError, FieldError } from './api-error';

function flatten(errors: readonly ValidationError[], parent: string, out: FieldError[]): void {
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    for (const reason of Object.values(e.constraints ?? {})) out.push({ field, reason });
    if (e.children?.length) flatten(e.children, field, out);
  }
}

/** class-validator errors → 400 with every field path and reason; the message lists the first few. */
export function validationErrorsToApiError(errors: ValidationError[]): ApiError {
  const fields: FieldError[] = [];
  flatten(errors, '', fields);
  const shown = fields.slice(0, 5).map((f) => `${f.field}: ${f.reason}`);
  const more = fields.length > 5 ? ` (and ${fields.length - 5} more)` : '';
  return new ApiError(400, `invalid request: ${shown.join('; ')}${more}`, fields);
}

/** Deeper than any request body nests (blocks.0.signature.op), shallow enough for the recursive transformers. */
export const MAX_BODY_DEPTH = 32;

/**
 * The path to the first value nested deeper than `max` levels in `value`, or undefined. Iterative: a body may be
 * nested thousands deep, which is what recursive walkers must not see (they overflow the stack: a 500).
 */
export function pathDeeperThan(value: unknown, max: number): string[] | undefined {
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (next.value === null || typeof next.value !== 'object') continue;
    if (next.path.length >= max) return next.path;
    for (const [key, child] of Object.entries(next.value))
      stack.push({ value: child, path: [...next.path, key] });
  }
  return undefined;
}

/**
 * The path to the first string (value or key) in `value` that holds a NUL character, or undefined; `[]` when
 * `value` itself is such a string. PostgreSQL's text cannot hold one, so it would fail there as a 500.
 */
export function pathToNulString(value: unknown): string[] | undefined {
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (typeof next.value === 'string') {
      if (next.value.includes('\u0000')) return next.path;
      continue;
    }
    if (next.value === null || typeof next.value !== 'object') continue;
    for (const [key, child] of Object.entries(next.value)) {
      if (key.includes('\u0000')) return [...next.path, key];
      stack.push({ value: child, path: [...next.path, key] });
    }
  }
  return undefined;
}

/**
 * Nest's pipe, except that a JSON body must be an object (an array would be validated as if it were one, its
 * indices refused as unknown properties, field "0", beside every field reported missing) and not nested deeper
 * than MAX_BODY_DEPTH, and no body, query or path value holds a NUL character.
 */
class ApiValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const isObject = typeof value === 'object' && !Array.isArray(value);
    // absent (undefined) stays the pipe's business: it validates an empty object
    if (metadata.type === 'body' && value !== undefined && !isObject && this.toValidate(metadata)) {
      const reason = `must be a JSON object, not ${Array.isArray(value) ? 'a list' : typeof value}`;
      throw new ApiError(400, `body: ${reason}`, [{ field: 'body', reason }]);
    }
    const deep = metadata.type === 'body' ? pathDeeperThan(value, MAX_BODY_DEPTH) : undefined;
    if (deep) {
      const field = deep.join('.');
      const reason = `nested deeper than ${MAX_BODY_DEPTH} levels`;
      throw new ApiError(400, `${field}: ${reason}`, [{ field, reason }]);
    }
    const nul = deep ? undefined : pathToNulString(value);
    if (nul) {
      const field =
        [
          ...(metadata.type === 'body' ? [] : [metadata.data ?? (metadata.type === 'param' ? 'path' : '')]),
          ...nul,
        ]
          .filter(Boolean)
          .join('.') || metadata.type;
      const reason = 'must not contain the NUL character (U+0000)';
      throw new ApiError(400, `${field}: ${reason}`, [{ field, reason }]);
    }
    return super.transform(value, metadata);
  }
}

export function createValidationPipe(): ValidationPipe {
  return new ApiValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // report every problem in one answer, not just the first per property
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: validationErrorsToApiError,
  });
}
