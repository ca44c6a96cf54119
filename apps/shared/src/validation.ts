import { BadRequestException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';

/** One invalid input field: its path (`items.0.sku`) and what is wrong with it. */
export interface FieldError {
  property: string;
  constraints: string[];
}

/** The 400 body for invalid input: the same `fields` shape as `SagaValidationError.fields`. */
export function invalidInput(message: string, fields: FieldError[]): BadRequestException {
  return new BadRequestException({ statusCode: 400, error: 'Bad Request', message, fields });
}

/** Flattens class-validator errors (nested ones included) into field errors. */
export function toFieldErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const property = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ property, constraints: Object.values(error.constraints) }] : [];
    return [...own, ...toFieldErrors(error.children ?? [], property)];
  });
}

/** Validates and transforms a request body; unknown properties are refused. */
export function bodyValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    exceptionFactory: (errors) => invalidInput('Invalid request body', toFieldErrors(errors)),
  });
}
