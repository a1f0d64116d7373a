import { ValidationError, ValidationPipe } from '@nestjs/common';
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

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // report every problem in one answer, not just the first per property
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: validationErrorsToApiError,
  });
}
