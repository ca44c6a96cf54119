import { SAGA_STEPS_METADATA } from '../saga.constants';
import { appendClassMetadata } from './metadata';
import type { StepMetadata, StepOptions } from './options';

/**
 * Declares a step at position `order` (steps run in ascending order). Without `participant` it is a
 * local step: the method runs inside the saga's own transaction (`ctx.manager`). With `participant`
 * it is a remote step: the method returns the command payload sent to that participant.
 */
export function Step(order: number, options: StepOptions = {}): MethodDecorator {
  return (target, propertyKey) => {
    appendClassMetadata<StepMetadata>(SAGA_STEPS_METADATA, target.constructor, {
      method: String(propertyKey),
      order,
      options,
    });
  };
}
