import { ValidationPipe } from '@nestjs/common';
import { ValidationError } from '@truceline/domain';
import type { ValidationError as FieldFailure } from 'class-validator';

export interface FieldError {
  field: string;
  message: string;
}

/**
 * class-validator's error tree as a flat list, one entry per bad field with its dotted path
 * (`location.frontlineKm`, `evidence.2`), so a client can point at every mistake at once.
 */
export function toFieldErrors(failures: FieldFailure[], parent = ''): FieldError[] {
  return failures.flatMap((failure) => {
    const field = parent ? `${parent}.${failure.property}` : failure.property;
    const own = Object.values(failure.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...toFieldErrors(failure.children ?? [], field)];
  });
}

/** The 400 the ValidationPipe throws: the problem filter renders its fields as `errors`. */
export function validationException(failures: FieldFailure[]): ValidationError {
  const errors = toFieldErrors(failures);
  const fields = [...new Set(errors.map((e) => e.field))];
  return new ValidationError(`invalid request: ${fields.join(', ')}`, errors);
}

/**
 * Bodies and queries are validated against their DTO; unknown fields are refused rather than
 * dropped (SPEC §6), so a misspelt optional field is reported instead of silently ignored.
 */
export const createValidationPipe = () =>
  new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: validationException,
  });
