import { SAGA_COMPENSATIONS_METADATA } from '../saga.constants';
import { appendClassMetadata } from './metadata';
import type { CompensationMetadata, CompensationOptions } from './options';

/**
 * Declares the compensation of `step` (the step method's name). Without `command` it runs locally in
 * the saga's transaction; with `command` the method returns the payload of a command sent to the
 * step's participant (or `participant`).
 */
export function Compensation(step: string, options: CompensationOptions = {}): MethodDecorator {
  return (target, propertyKey) => {
    appendClassMetadata<CompensationMetadata>(SAGA_COMPENSATIONS_METADATA, target.constructor, {
      method: String(propertyKey),
      step,
      options,
    });
  };
}
