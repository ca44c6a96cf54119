import type { CallHandler, CanActivate, ExecutionContext, NestInterceptor, Type } from '@nestjs/common';
import { GUARDS_METADATA, INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import type { ModuleRef } from '@nestjs/core';
import { defer, from, isObservable, lastValueFrom, type Observable } from 'rxjs';
import { mergeAll } from 'rxjs/operators';
import { SagaDefinitionError, StepFailure } from '../errors/saga.errors';
import type { CommandContext } from './contexts';

type RpcArgumentsHost = ReturnType<ExecutionContext['switchToRpc']>;
type HttpArgumentsHost = ReturnType<ExecutionContext['switchToHttp']>;
type WsArgumentsHost = ReturnType<ExecutionContext['switchToWs']>;

/** What `ExecutionContext.getType()` says around a command handler. */
export const SAGA_CONTEXT_TYPE = 'saga';

/** Calls a command handler: `(payload, ctx)` → its reply data, or a promise of it. */
export type CommandInvoker = (payload: unknown, ctx: CommandContext) => unknown;

/**
 * The ExecutionContext that guards and interceptors get around a command handler: type `saga`, arguments
 * `[payload, ctx]`, read RPC-style (`switchToRpc().getData()` is the payload, `getContext()` the `CommandContext`).
 */
class CommandExecutionContext implements ExecutionContext {
  constructor(
    private readonly args: [unknown, CommandContext],
    private readonly cls: Type<unknown>,
    private readonly handler: (...args: unknown[]) => unknown,
  ) {}

  getClass<T = unknown>(): Type<T> {
    return this.cls as Type<T>;
  }
  getHandler(): (...args: unknown[]) => unknown {
    return this.handler;
  }
  getArgs<T extends unknown[] = unknown[]>(): T {
    return this.args as unknown as T;
  }
  getArgByIndex<T = unknown>(index: number): T {
    return this.args[index] as T;
  }
  getType<T extends string = string>(): T {
    return SAGA_CONTEXT_TYPE as T;
  }
  switchToRpc(): RpcArgumentsHost {
    return {
      getData: <T>() => this.args[0] as T,
      getContext: <T>() => this.args[1] as T,
    };
  }
  switchToHttp(): HttpArgumentsHost {
    throw new Error('A saga command has no HTTP request: check context.getType() (it is "saga").');
  }
  switchToWs(): WsArgumentsHost {
    throw new Error('A saga command has no WebSocket: check context.getType() (it is "saga").');
  }
}

/** The guards or interceptors declared on the class and on the method (class first, as Nest orders them). */
function declared<T>(key: string, cls: Type<unknown>, method: (...args: unknown[]) => unknown): T[] {
  const onClass = (Reflect.getMetadata(key, cls) as T[] | undefined) ?? [];
  const onMethod = (Reflect.getMetadata(key, method) as T[] | undefined) ?? [];
  return [...onClass, ...onMethod];
}

/**
 * Wraps a command handler with the guards and interceptors declared on its participant class and method
 * (`@UseGuards`, `@UseInterceptors`), resolved once, at boot, from the application's providers. The application's
 * global enhancers are not applied — they are usually HTTP concerns (an auth guard reading a header), as Nest does
 * not apply them to a hybrid application's microservice handlers either — nor are pipes (validate with the
 * `payload` DTO) or exception filters (a handler's error is classified with `businessErrors`).
 *
 * Guards run first, in order: one that returns false fails the command as a business failure (the saga
 * compensates); an error one throws counts as the handler's. Interceptors then wrap the handler as they wrap a
 * route: what the last `next.handle()` emits is the reply data. All run inside the command's transaction, and run
 * again when it does.
 */
export function enhancedInvoker(
  moduleRef: ModuleRef,
  instance: object,
  methodName: string,
  where: string,
): CommandInvoker {
  const cls = instance.constructor as Type<unknown>;
  const method = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
  const call: CommandInvoker = (payload, ctx) => method.call(instance, payload, ctx);
  const resolve = <T>(enhancer: unknown, kind: string): T => {
    if (typeof enhancer !== 'function') return enhancer as T;
    try {
      return moduleRef.get(enhancer, { strict: false });
    } catch (error) {
      throw new SagaDefinitionError(
        `${where}: its ${kind} ${(enhancer as Type<unknown>).name} could not be resolved (${String(error)}); ` +
          'enhancers of command handlers must be singletons.',
      );
    }
  };
  const guards = declared<unknown>(GUARDS_METADATA, cls, method).map((g) => resolve<CanActivate>(g, 'guard'));
  const interceptors = declared<unknown>(INTERCEPTORS_METADATA, cls, method).map((i) =>
    resolve<NestInterceptor>(i, 'interceptor'),
  );
  if (guards.length === 0 && interceptors.length === 0) return call;

  return async (payload, ctx) => {
    const context = new CommandExecutionContext([payload, ctx], cls, method);
    for (const guard of guards) {
      if (!(await settle(guard.canActivate(context)))) {
        throw new StepFailure(`${where}: refused by the guard ${guard.constructor.name}`);
      }
    }
    if (interceptors.length === 0) return call(payload, ctx);
    // As Nest chains a route's interceptors: the first declared is the outermost.
    const chain = (i: number): Observable<unknown> =>
      i === interceptors.length
        ? defer(() => from(Promise.resolve(call(payload, ctx))))
        : defer(async () =>
            interceptors[i].intercept(
              context,
              handlerOf(() => chain(i + 1)),
            ),
          ).pipe(mergeAll());
    return lastValueFrom(chain(0), { defaultValue: undefined });
  };
}

function handlerOf(next: () => Observable<unknown>): CallHandler {
  return { handle: next };
}

/** A guard's answer: a boolean, a promise of one or an observable of one (its last value, as Nest reads it). */
async function settle(answer: boolean | Promise<boolean> | Observable<boolean>): Promise<boolean> {
  if (isObservable(answer)) return lastValueFrom(answer, { defaultValue: false });
  return answer;
}
