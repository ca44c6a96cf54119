import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { initialState } from '../engine/saga-engine';
import type { SagaEvent } from '../engine/saga-event';
import { isTerminal } from '../engine/saga-state';
import { IdempotencyKeyConflictError, SagaConcurrencyError, SagaNotFoundError } from '../errors/saga.errors';
import type { SagaInstanceRecord, SagaStore } from '../persistence/saga-store';
import { SagaTransactions } from '../persistence/typeorm/transactions';
import { isUniqueViolation } from '../persistence/typeorm/unique-violation';
import { SAGA_STORE } from '../saga.constants';
import type { SagaMessage } from '../transport/message';
import type { Disposition, IncomingMessage } from '../transport/transport';
import { OutboxRelay } from './outbox-relay';
import type { CommittedMessage } from './outbox-relay';
import { SagaProcessor } from './saga-processor';
import type { Applied } from './saga-processor';
import { SagaRegistry } from './saga-registry';
import type { RegisteredSaga } from './saga-registry';
import { SagaRuntimeOptions } from './runtime-options';
import { SagaWaiters } from './saga-waiters';

const CONFLICT_RETRIES = 8;

/**
 * The coordinator side of the runtime: starts sagas, applies replies, timers and operator actions to them,
 * each in one transaction, then hands the outbox rows to the relay and wakes local waiters.
 */
@Injectable()
export class SagaCoordinator {
  private readonly logger = new Logger(SagaCoordinator.name);

  constructor(
    private readonly registry: SagaRegistry,
    private readonly processor: SagaProcessor,
    private readonly transactions: SagaTransactions,
    @Inject(SAGA_STORE) private readonly store: SagaStore,
    private readonly relay: OutboxRelay,
    private readonly waiters: SagaWaiters,
    private readonly options: SagaRuntimeOptions,
  ) {}

  get inboxConsumer(): string {
    return `coordinator:${this.options.service}`;
  }

  /**
   * Creates and starts a saga in one transaction. With an idempotency key (or a caller-chosen id) already
   * used, returns the saga that has it (its data wins) — unless that saga is of another type, which is refused.
   */
  async start(
    saga: RegisteredSaga,
    data: Record<string, unknown>,
    how: { id: string; idChosen: boolean; idempotencyKey?: string },
  ): Promise<string> {
    const { id, idempotencyKey } = how;
    const record = await this.withConflictRetries(async () => {
      const result = await this.transactions.run(async (manager) => {
        const existing =
          (idempotencyKey !== undefined
            ? await this.store.findInstanceByIdempotencyKey(manager, idempotencyKey)
            : null) ?? (how.idChosen ? await this.store.findInstance(manager, id) : null);
        if (existing) return { existing };
        const now = Date.now();
        const fresh: SagaInstanceRecord = {
          id,
          type: saga.definition.name,
          definitionVersion: saga.definition.version,
          state: initialState(saga.definition, now),
          currentStep: saga.definition.steps[0].name,
          dueAt: null,
          data,
          version: 0,
          idempotencyKey: idempotencyKey ?? null,
          createdAt: now,
          updatedAt: now,
        };
        return {
          applied: await this.processor.apply(manager, saga, fresh, { type: 'start' }, { isNew: true }),
        };
      });
      if (result.existing) return result.existing;
      this.afterCommit([result.applied]);
      return result.applied.record;
    });
    if (record.type !== saga.definition.name) {
      throw new IdempotencyKeyConflictError(
        idempotencyKey ?? id,
        record.id,
        record.type,
        saga.definition.name,
      );
    }
    return record.id;
  }

  /** Applies an event (a timer or an operator action) to one saga, retrying on concurrent updates. */
  async applyEvent(sagaId: string, event: SagaEvent): Promise<Applied> {
    return this.withConflictRetries(async () => {
      const applied = await this.transactions.run(async (manager) => {
        const record = await this.store.findInstance(manager, sagaId);
        if (!record) throw new SagaNotFoundError(sagaId);
        return this.processor.apply(manager, this.registry.saga(record.type), record, event);
      });
      this.afterCommit([applied]);
      return applied;
    });
  }

  /** Handles replies: all in one transaction; if that fails, one by one, so one bad reply cannot block the rest. */
  async handleReplies(batch: IncomingMessage[]): Promise<Disposition[]> {
    const dispositions: Disposition[] = batch.map(({ message }) => this.precheck(message) ?? { kind: 'ack' });
    const valid = batch.filter((_, i) => dispositions[i].kind === 'ack').map((b) => b.message);
    if (valid.length === 0) return dispositions;
    try {
      await this.applyReplies(valid);
      return dispositions;
    } catch (error) {
      if (valid.length > 1) this.logger.debug(`Reply batch failed, applying one by one: ${String(error)}`);
    }
    const single = new Map<string, Disposition>();
    for (const message of valid) single.set(message.messageId, await this.applyOneReply(message));
    return batch.map(({ message }, i) => single.get(message.messageId) ?? dispositions[i]);
  }

  /** Fires the timers that are due (retries, reply timeouts, deadlines); returns how many sagas it advanced. */
  async fireDueTimers(limit = 100): Promise<number> {
    const ids = await this.transactions.run((manager) => this.store.findDue(manager, Date.now(), limit));
    let advanced = 0;
    for (const id of ids) {
      try {
        const applied = await this.applyEvent(id, { type: 'timer' });
        if (!applied.ignored) advanced++;
      } catch (error) {
        this.logger.warn(`Timer of saga ${id} failed, will retry: ${String(error)}`);
      }
    }
    return advanced;
  }

  private precheck(message: SagaMessage): Disposition | undefined {
    if (message.kind !== 'reply')
      return { kind: 'reject', reason: `expected a reply, got a ${message.kind}` };
    if (!this.registry.findSaga(message.sagaType)) {
      return {
        kind: 'reject',
        reason: `unknown saga type '${message.sagaType}' for service '${this.options.service}'`,
      };
    }
    if (message.outcome !== 'success' && message.outcome !== 'failure') {
      return { kind: 'reject', reason: `reply outcome must be 'success' or 'failure'` };
    }
    return undefined;
  }

  private async applyReplies(messages: SagaMessage[]): Promise<void> {
    const applied = await this.transactions.run(async (manager) => {
      const duplicates = await this.store.recordInbox(
        manager,
        this.inboxConsumer,
        messages.map((m) => m.messageId),
      );
      const latest = new Map<string, SagaInstanceRecord>();
      const results: Applied[] = [];
      for (const message of messages) {
        if (duplicates.has(message.messageId)) continue;
        const result = await this.applyReply(manager, message, latest.get(message.sagaId));
        latest.set(message.sagaId, result.record);
        results.push(result);
      }
      return results;
    });
    this.afterCommit(applied);
  }

  private async applyOneReply(message: SagaMessage): Promise<Disposition> {
    try {
      await this.withConflictRetries(() => this.applyReplies([message]));
      return { kind: 'ack' };
    } catch (error) {
      if (error instanceof SagaNotFoundError) return { kind: 'reject', reason: error.message };
      this.logger.warn(
        `Reply ${message.messageId} for saga ${message.sagaId} failed, will be redelivered: ${String(error)}`,
      );
      return { kind: 'retry' };
    }
  }

  private async applyReply(
    manager: EntityManager,
    message: SagaMessage,
    loaded: SagaInstanceRecord | undefined,
  ): Promise<Applied> {
    const record = loaded ?? (await this.store.findInstance(manager, message.sagaId));
    if (!record) throw new SagaNotFoundError(message.sagaId);
    const { step, phase, attempt } = message;
    const event: SagaEvent =
      message.outcome === 'success'
        ? { type: 'succeeded', step, phase, attempt }
        : {
            type: 'failed',
            step,
            phase,
            attempt,
            failure: message.failure ?? {
              name: 'Error',
              message: 'failed without details',
              transient: false,
            },
          };
    const result = await this.processor.apply(manager, this.registry.saga(record.type), record, event, {
      reply: { payload: message.payload },
    });
    if (result.ignored) this.logger.debug(`Reply ${message.messageId} ignored: ${result.ignored}`);
    return result;
  }

  private afterCommit(applied: Applied[]): void {
    const outbox: CommittedMessage[] = [];
    for (const a of applied) {
      outbox.push(...a.outbox);
      if (a.ignored || a.rejected) continue;
      const { id, type, state, currentStep } = a.record;
      this.waiters.notify({
        sagaId: id,
        sagaType: type,
        status: state.status,
        step: currentStep,
        terminal: isTerminal(state.status),
      });
    }
    this.relay.enqueue(outbox);
  }

  private async withConflictRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const retryable = error instanceof SagaConcurrencyError || isUniqueViolation(error);
        if (!retryable || attempt >= CONFLICT_RETRIES) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
    }
  }
}
