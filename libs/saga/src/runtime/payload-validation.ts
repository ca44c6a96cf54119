import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { ValidationError } from 'class-validator';

export interface FieldError {
  property: string;
  constraints: string[];
}

/** Validates `plain` against a class-validator DTO; returns the instance, or the field errors. */
export async function validateAgainst<T extends object>(
  cls: Type<T>,
  plain: unknown,
): Promise<{ value: T; errors: FieldError[] }> {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    return { value: plain as T, errors: [{ property: '(root)', constraints: ['must be an object'] }] };
  }
  const value = plainToInstance(cls, plain);
  const errors = await validate(value, { forbidUnknownValues: true });
  return { value, errors: flatten(errors) };
}

function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((e) => {
    const property = prefix ? `${prefix}.${e.property}` : e.property;
    const own = e.constraints ? [{ property, constraints: Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], property)];
  });
}
