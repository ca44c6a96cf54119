import { Inject, Injectable } from '@nestjs/common';
import type { Type } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { OperatorAction } from '../engine/saga-event';
import { isTerminal } from '../engine/saga-state';
import {
  SagaOperationError,
  SagaTimeoutError,
  SagaValidationError,
  SagaNotFoundError,
} from '../errors/saga.errors';
import type { SagaQuery, SagaStore } from '../persistence/saga-store';
import { SagaTransactions } from '../persistence/typeorm/transactions';
import { SAGA_STORE } from '../saga.constants';
import { validateAgainst } from './payload-validation';
import { SagaCoordinator } from './saga-coordinator';
import { SagaStarter } from './saga-starter';
import { SagaRegistry } from './saga-registry';
import { toView } from './saga-view';
import type { SagaView } from './saga-view';
import { SagaWaiters } from './saga-waiters';
import type { SagaTransitionEvent } from './saga-waiters';
import { uuidv7 } from './ids';

const MAX_KEY_LENGTH = { idempotencyKey: 200, sagaId: 36 } as const;

export interface StartOptions {
  /**
   * At most 200 characters. Makes `start` idempotent: a second call with the same key returns the first saga's id (the first data
   * wins) instead of starting another. A key already used by a saga of another type is refused.
   */
  idempotencyKey?: string;
  /** Use this id (at most 36 characters) instead of a generated UUID; idempotent: an existing id is returned as is. */
  sagaId?: string;
  /**
   * The transaction to start the saga in: the `ctx.manager` of the step, command handler or `@OnReply` method this
   * is called from, while it runs. The saga then commits or rolls back with that code's work. Without it, a
   * `start()` from inside such code joins its transaction all the same unless `database.implicitJoin` is false.
   */
  manager?: EntityManager;
}

/** Starts sagas, reads their state and history, and lets an operator act on them. */
@Injectable()
export class SagaManager {
  constructor(
    private readonly registry: SagaRegistry,
    private readonly coordinator: SagaCoordinator,
    private readonly starter: SagaStarter,
    private readonly transactions: SagaTransactions,
    @Inject(SAGA_STORE) private readonly store: SagaStore,
    private readonly waiters: SagaWaiters,
  ) {}

  /**
   * Validates `data` against the saga's data class (rejecting with `SagaValidationError` and persisting
   * nothing when it is invalid), then creates the saga and runs it up to its first remote step in one
   * transaction. Resolves with the saga id once that transaction has committed.
   */
  async start<TData extends object>(
    saga: Type<unknown> | string,
    data: TData,
    options: StartOptions = {},
  ): Promise<string> {
    const registered = this.registry.saga(saga);
    for (const [option, value] of [
      ['idempotencyKey', options.idempotencyKey],
      ['sagaId', options.sagaId],
    ] as const) {
      if (value !== undefined && (value.length === 0 || value.length > MAX_KEY_LENGTH[option])) {
        throw new SagaValidationError(registered.definition.name, [
          { property: option, constraints: [`must be 1 to ${MAX_KEY_LENGTH[option]} characters long`] },
        ]);
      }
    }
    const { dataClass, name } = registered.definition;
    if (dataClass) {
      const { errors } = await validateAgainst(dataClass, data);
      if (errors.length > 0) throw new SagaValidationError(name, errors);
    }
    const plain = JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
    return this.starter.start(registered, plain, {
      id: options.sagaId ?? uuidv7(),
      idChosen: options.sagaId !== undefined,
      idempotencyKey: options.idempotencyKey,
      within: options.manager,
    });
  }

  /** The saga's status, data and ordered history, or null when there is no such saga. */
  async find<TData extends object = Record<string, unknown>>(
    sagaId: string,
  ): Promise<SagaView<TData> | null> {
    return this.transactions.run(async (manager) => {
      const record = await this.store.findInstance(manager, sagaId);
      if (!record) return null;
      return toView<TData>(record, await this.store.history(manager, sagaId));
    });
  }

  /**
   * Resolves with the saga's view once it is COMPLETED, COMPENSATED or COMPENSATION_FAILED; rejects with
   * `SagaTimeoutError` after `timeoutMs` (default 30 s). Woken at once when this process finishes the saga;
   * polls the database every `pollMs` (default 200 ms) for sagas finished by other processes.
   */
  async waitFor<TData extends object = Record<string, unknown>>(
    sagaId: string,
    options: { timeoutMs?: number; pollMs?: number } = {},
  ): Promise<SagaView<TData>> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    let wake: () => void = () => undefined;
    const off = this.waiters.on(sagaId, () => wake());
    try {
      for (;;) {
        const view = await this.find<TData>(sagaId);
        if (!view) throw new SagaNotFoundError(sagaId);
        if (isTerminal(view.status)) return view;
        const left = deadline - Date.now();
        if (left <= 0) throw new SagaTimeoutError(sagaId, timeoutMs, view.status);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, options.pollMs ?? 200));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      off();
    }
  }

  /**
   * Calls `listener` after every saga transition this process commits (start, each reply, timer or operator
   * action) — for metrics, logs or tests. Returns the function that unsubscribes it. Listeners must not throw.
   */
  onTransition(listener: (event: SagaTransitionEvent) => void): () => void {
    return this.waiters.listen(listener);
  }

  /** Sagas by status, type and age (history omitted), oldest update first. */
  async list(query: SagaQuery = {}): Promise<SagaView[]> {
    const records = await this.transactions.run((manager) => this.store.list(manager, query));
    return records.map((r) => toView(r, []));
  }

  /** Operator: runs the current step or compensation again now (e.g. after COMPENSATION_FAILED). */
  retry(sagaId: string, reason?: string): Promise<SagaView> {
    return this.operate(sagaId, 'retry', reason);
  }

  /** Operator: records the current step (or compensation) as done by hand and moves on. */
  resolve(sagaId: string, reason?: string): Promise<SagaView> {
    return this.operate(sagaId, 'resolve', reason);
  }

  /** Operator: compensates a running saga now (refused once it has passed its pivot). */
  abort(sagaId: string, reason?: string): Promise<SagaView> {
    return this.operate(sagaId, 'abort', reason);
  }

  private async operate(sagaId: string, action: OperatorAction, reason?: string): Promise<SagaView> {
    const applied = await this.coordinator.applyEvent(sagaId, { type: 'operator', action, reason });
    if (applied.rejected) throw new SagaOperationError(sagaId, `${action}: ${applied.rejected}`);
    return (await this.find(sagaId))!;
  }
}
