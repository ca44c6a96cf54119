import { COMMAND_HANDLERS_METADATA } from '../saga.constants';
import { appendClassMetadata } from './metadata';
import type { CommandHandlerMetadata, HandleCommandOptions } from './options';

/**
 * Handles the command `command` sent to this participant. The method gets `(payload, ctx)` where
 * `ctx.manager` is the transaction that also records the inbox row and the reply; it returns the reply
 * data, or throws/returns a `StepFailure` for a business failure.
 */
export function HandleCommand(command: string, options: HandleCommandOptions = {}): MethodDecorator {
  return (target, propertyKey) => {
    appendClassMetadata<CommandHandlerMetadata>(COMMAND_HANDLERS_METADATA, target.constructor, {
      method: String(propertyKey),
      command,
      options,
    });
  };
}
