import { Injectable } from '@nestjs/common';
import type { Type } from '@nestjs/common';
import { DiscoveryService, ModuleRef } from '@nestjs/core';
import { buildSagaDefinition, classifier, isSagaClass } from '../definition/build-saga-definition';
import type { CommandHandlerMetadata } from '../decorators/options';
import { SagaDefinitionError } from '../errors/saga.errors';
import { COMMAND_HANDLERS_METADATA, PARTICIPANT_METADATA } from '../saga.constants';
import { enhancedInvoker } from './handler-enhancers';
import { SagaRegistry } from './saga-registry';

/** Finds the saga and participant providers among the application's providers and fills the registry. */
@Injectable()
export class SagaExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly registry: SagaRegistry,
    private readonly moduleRef: ModuleRef,
  ) {}

  /**
   * Registers every saga and participant. With `requireLocalHandlers` (the in-process transport),
   * every command a saga sends must be handled in this application.
   */
  explore(requireLocalHandlers: boolean): void {
    for (const wrapper of this.discovery.getProviders()) {
      const metatype = wrapper.metatype as Type<unknown> | undefined;
      if (!metatype || typeof metatype !== 'function' || !wrapper.isDependencyTreeStatic()) {
        if (metatype && typeof metatype === 'function' && hasSagaMetadata(metatype)) {
          throw new SagaDefinitionError(
            `${metatype.name} is request-scoped (or depends on a request-scoped provider, or has a request-scoped guard or interceptor): sagas and participants must be singletons.`,
          );
        }
        continue;
      }
      const instance = wrapper.instance as object | undefined;
      if (!instance) continue;
      if (isSagaClass(metatype))
        this.registry.addSaga({ definition: buildSagaDefinition(metatype), instance });
      if (Reflect.hasMetadata(PARTICIPANT_METADATA, metatype)) this.addParticipant(metatype, instance);
    }
    if (requireLocalHandlers) this.checkEveryCommandIsHandled();
  }

  private addParticipant(metatype: Type<unknown>, instance: object): void {
    const { name } = Reflect.getMetadata(PARTICIPANT_METADATA, metatype) as { name: string };
    const handlers =
      (Reflect.getMetadata(COMMAND_HANDLERS_METADATA, metatype) as CommandHandlerMetadata[]) ?? [];
    if (handlers.length === 0) {
      throw new SagaDefinitionError(
        `${metatype.name} is @SagaParticipant('${name}') but has no @HandleCommand() method: add one per command it executes.`,
      );
    }
    for (const h of handlers) {
      const { sideEffects } = h.options;
      const where = `${metatype.name}.${h.method}`;
      if (sideEffects !== undefined && typeof sideEffects !== 'boolean') {
        throw new SagaDefinitionError(
          `${where}: @HandleCommand({ sideEffects }) must be true or false, got ${JSON.stringify(sideEffects)}.`,
        );
      }
      this.registry.addHandler({
        participant: name,
        command: h.command,
        where,
        payloadClass: h.options.payload,
        isBusinessError: classifier(h.options.businessErrors),
        sideEffects: sideEffects ?? true,
        invoke: enhancedInvoker(this.moduleRef, instance, h.method, where),
      });
    }
  }

  private checkEveryCommandIsHandled(): void {
    const missing: string[] = [];
    for (const { definition } of this.registry.sagas()) {
      for (const step of definition.steps) {
        const actions = [
          { method: step.method, target: step.target },
          ...(step.compensation
            ? [{ method: step.compensation.method, target: step.compensation.target }]
            : []),
        ];
        for (const { method, target } of actions) {
          if (target.kind === 'remote' && !this.registry.handler(target.participant, target.command)) {
            missing.push(
              `${definition.target.name}.${method} sends '${target.command}' to participant '${target.participant}', ` +
                `but no provider handles it: add @HandleCommand('${target.command}') to a @SagaParticipant('${target.participant}') ` +
                `provider of this application, or use a broker transport if another service handles it.`,
            );
          }
        }
      }
    }
    if (missing.length > 0)
      throw new SagaDefinitionError(`Unhandled saga commands:\n  - ${missing.join('\n  - ')}`);
  }
}

function hasSagaMetadata(metatype: Type<unknown>): boolean {
  return isSagaClass(metatype) || Reflect.hasMetadata(PARTICIPANT_METADATA, metatype);
}
