import { Injectable } from '@nestjs/common';
import { PARTICIPANT_METADATA } from '../saga.constants';

/** Declares a participant named `name`: the provider whose `@HandleCommand` methods execute saga commands. */
export function SagaParticipant(name: string): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata(PARTICIPANT_METADATA, { name }, target);
    Injectable()(target);
  };
}
