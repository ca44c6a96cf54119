import type { CommandInvoker } from './handler-enhancers';
import { Injectable } from '@nestjs/common';
import type { Type } from '@nestjs/common';
import type { ErrorClassifier, SagaDefinition } from '../definition/saga-definition';
import { SagaDefinitionError, UnknownSagaTypeError } from '../errors/saga.errors';

/** A saga definition with the provider instance whose methods implement it. */
export interface RegisteredSaga {
  definition: SagaDefinition;
  instance: object;
}

/** One `@HandleCommand` method of a participant. */
export interface RegisteredCommandHandler {
  participant: string;
  command: string;
  /** `Class.method`, for messages. */
  where: string;
  payloadClass?: Type<object>;
  isBusinessError: ErrorClassifier;
  /** `@HandleCommand({ sideEffects })`: false when its only effects are writes through `ctx.manager`. */
  sideEffects: boolean;
  /** Calls the method, through the guards and interceptors declared on it and its class (see `handler-enhancers.ts`). */
  invoke: CommandInvoker;
}

/** The sagas and participants of this application, filled once at boot by the explorer. */
@Injectable()
export class SagaRegistry {
  private readonly sagasByName = new Map<string, RegisteredSaga>();
  private readonly sagasByClass = new Map<Type<unknown>, RegisteredSaga>();
  private readonly handlers = new Map<string, RegisteredCommandHandler>();

  addSaga(saga: RegisteredSaga): void {
    const { name, target } = saga.definition;
    const existing = this.sagasByName.get(name);
    if (existing) {
      throw new SagaDefinitionError(
        `${existing.definition.target.name} and ${target.name} are both @SagaOrchestration({ name: '${name}' }): saga names must be unique.`,
      );
    }
    this.sagasByName.set(name, saga);
    this.sagasByClass.set(target, saga);
  }

  addHandler(handler: RegisteredCommandHandler): void {
    const key = handlerKey(handler.participant, handler.command);
    const existing = this.handlers.get(key);
    if (existing) {
      throw new SagaDefinitionError(
        `${existing.where} and ${handler.where} both handle '${handler.command}' for participant '${handler.participant}': keep one.`,
      );
    }
    this.handlers.set(key, handler);
  }

  /** The saga registered under a class or a name; throws `UnknownSagaTypeError` otherwise. */
  saga(sagaType: Type<unknown> | string): RegisteredSaga {
    const saga =
      typeof sagaType === 'string' ? this.sagasByName.get(sagaType) : this.sagasByClass.get(sagaType);
    if (!saga) throw new UnknownSagaTypeError(typeof sagaType === 'string' ? sagaType : sagaType.name);
    return saga;
  }

  findSaga(name: string): RegisteredSaga | undefined {
    return this.sagasByName.get(name);
  }

  handler(participant: string, command: string): RegisteredCommandHandler | undefined {
    return this.handlers.get(handlerKey(participant, command));
  }

  sagas(): RegisteredSaga[] {
    return [...this.sagasByName.values()];
  }

  /** The names of the participants hosted by this application. */
  participants(): string[] {
    return [...new Set([...this.handlers.values()].map((h) => h.participant))];
  }
}

function handlerKey(participant: string, command: string): string {
  return `${participant}\u0000${command}`;
}
