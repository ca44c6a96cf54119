import { SAGA_REPLY_HANDLERS_METADATA } from '../saga.constants';
import { appendClassMetadata } from './metadata';
import type { ReplyHandlerMetadata } from './options';

/**
 * Receives the reply data of the remote step `step` on success, with the saga context: typically it
 * copies fields into `ctx.data`. It runs in the transaction that records the reply.
 */
export function OnReply(step: string): MethodDecorator {
  return (target, propertyKey) => {
    appendClassMetadata<ReplyHandlerMetadata>(SAGA_REPLY_HANDLERS_METADATA, target.constructor, {
      method: String(propertyKey),
      step,
    });
  };
}
