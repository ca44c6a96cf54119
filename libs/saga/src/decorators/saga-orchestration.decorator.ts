import { Injectable } from '@nestjs/common';
import { SAGA_METADATA } from '../saga.constants';
import type { SagaOrchestrationOptions } from './options';

/**
 * Declares a saga: an ordinary injectable provider whose methods are its steps.
 * List the class in a module's `providers` like any other provider.
 */
export function SagaOrchestration(options: SagaOrchestrationOptions): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata(SAGA_METADATA, options, target);
    Injectable()(target);
  };
}
