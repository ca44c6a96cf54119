import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { SagaEvent } from '../engine/saga-event';
import { isTerminal } from '../engine/saga-state';
import { SagaNotFoundError } from '../errors/saga.errors';
import type { SagaInstanceRecord, SagaStore } from '../persistence/saga-store';
import { SagaTransactions } from '../persistence/typeorm/transactions';
import { SAGA_STORE } from '../saga.constants';
import type { SagaMessage } from '../transport/message';
import type { Disposition, IncomingMessage } from '../transport/transport';
import { OutboxRelay } from './outbox-relay';
import type { CommittedMessage } from './outbox-relay';
import { SagaProcessor, SagaWrites } from './saga-processor';
import type { Applied } from './saga-processor';
import { SagaRegistry } from './saga-registry';
import { SagaRuntimeOptions } from './runtime-options';
import { SagaWaiters } from './saga-waiters';
import { SagaMetrics } from './metrics';
import { withConflictRetries } from './conflicts';
import { recordFresh } from './inbox';
import { aheadOf, guessedWrong, runOptimistically } from './optimistic';
import { SagaInstanceCache } from './saga-instance-cache';
import {
  activeContext,
  endingSpan,
  endMessageSpans,
  runIn,
  SAGA_ATTRIBUTES,
  SpanKind,
  startMessageSpan,
  startTraced,
  type Traced,
} from './tracing';

/**
 * The coordinator side of the runtime: applies replies, timers and operator actions to sagas,
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
    private readonly metrics: SagaMetrics,
    private readonly cache: SagaInstanceCache,
  ) {}

  get inboxConsumer(): string {
    return `coordinator:${this.options.service}`;
  }

  /** Applies an event (a timer or an operator action) to one saga, retrying on concurrent updates. */
  async applyEvent(sagaId: string, event: SagaEvent): Promise<Applied> {
    // One span, under the caller's (an operator's request; none for the timer sweep): the commands it leads to carry it.
    const traced = startTraced(`saga ${event.type}`, SpanKind.INTERNAL, activeContext(), {
      [SAGA_ATTRIBUTES.id]: sagaId,
    });
    return endingSpan(traced.span, () =>
      withConflictRetries(async () => {
        return runOptimistically(this.transactions, async (manager, isolation) => {
          const record = await this.store.findInstance(manager, sagaId);
          if (!record) throw new SagaNotFoundError(sagaId);
          traced.span.setAttribute(SAGA_ATTRIBUTES.type, record.type);
          const writes = new SagaWrites(isolation);
          const result = await runIn(traced, () =>
            this.processor.apply(manager, this.registry.saga(record.type), record, event, writes),
          );
          this.afterCommit(manager, [result], await this.processor.flush(manager, writes));
          return result;
        });
      }),
    );
  }

  /** Handles replies: all in one transaction; if that fails, one by one, so one bad reply cannot block the rest. */
  async handleReplies(batch: IncomingMessage[]): Promise<Disposition[]> {
    const dispositions: Disposition[] = batch.map(({ message }) => this.precheck(message) ?? { kind: 'ack' });
    const valid = batch.filter((_, i) => dispositions[i].kind === 'ack').map((b) => b.message);
    if (valid.length === 0) return dispositions;
    // One span per reply (see `tracing.ts`), whichever transaction ends up applying it, under the participant's.
    const traces = new Map(
      valid.map((m) => [
        m.messageId,
        startMessageSpan(`saga reply ${m.sagaType}`, m, {
          [SAGA_ATTRIBUTES.outcome]: m.outcome ?? 'unknown',
        }),
      ]),
    );
    const result = await this.applyAll(batch, valid, dispositions, traces);
    endMessageSpans(batch, result, traces, 'not applied: will be redelivered');
    return result;
  }

  private async applyAll(
    batch: IncomingMessage[],
    valid: SagaMessage[],
    dispositions: Disposition[],
    traces: Map<string, Traced>,
  ): Promise<Disposition[]> {
    try {
      await this.applyReplies(valid, traces);
      return dispositions;
    } catch (error) {
      if (valid.length > 1) this.logger.debug(`Reply batch failed, applying one by one: ${String(error)}`);
    }
    const single = new Map<string, Disposition>();
    for (const message of valid) single.set(message.messageId, await this.applyOneReply(message, traces));
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

  /**
   * Applies replies in one transaction. On PostgreSQL that is two statements however many replies the batch holds:
   * one records the inbox rows and reads the sagas, one (see `commitWrites`) makes the conditional UPDATEs of the
   * sagas and inserts their history and the outgoing commands.
   */
  private async applyReplies(messages: SagaMessage[], traces: Map<string, Traced>): Promise<void> {
    await runOptimistically(
      this.transactions,
      async (manager, isolation) => {
        const writes = new SagaWrites(isolation);
        // One round trip for both: the inbox rows, and the sagas of the batch (a duplicate's too, it is left alone).
        const recording = recordFresh(
          this.store,
          manager,
          this.inboxConsumer,
          messages,
          (m) => m.messageId,
          (m) => m.sagaId,
        );
        const guesses =
          isolation.mayGuess && this.transactions.overlapsStatements(manager)
            ? this.guesses(messages)
            : undefined;
        const results = guesses
          ? await this.applyAhead(manager, messages, guesses, recording, writes, traces)
          : await this.applyRead(manager, messages, await recording, writes, traces);
        this.afterCommit(manager, results, await this.processor.flush(manager, writes));
      },
      { stepAside: true }, // acks and the rest wait while the messages go out (see `RunOptions.stepAside`)
    );
  }

  /** Applies the fresh replies of the batch, in order, to the sagas read with the inbox rows. */
  private async applyRead(
    manager: EntityManager,
    messages: SagaMessage[],
    { fresh, instances }: { fresh: SagaMessage[]; instances: SagaInstanceRecord[] },
    writes: SagaWrites,
    traces: Map<string, Traced>,
  ): Promise<Applied[]> {
    const duplicates = messages.length - fresh.length;
    if (duplicates > 0)
      this.transactions.afterCommit(() => this.metrics.duplicate(this.inboxConsumer, duplicates), manager);
    return this.applyInOrder(manager, fresh, new Map(instances.map((r) => [r.id, r])), writes, traces);
  }

  /**
   * The sagas of a batch as this process last committed them, when every one is remembered, of a type declared
   * `sideEffects: false`, no reply is in the batch twice, and guessing has been paying; otherwise undefined.
   */
  private guesses(messages: SagaMessage[]): Map<string, SagaInstanceRecord> | undefined {
    const guesses = new Map<string, SagaInstanceRecord>();
    const ids = new Set<string>();
    for (const { messageId, sagaId, sagaType } of messages) {
      if (ids.has(messageId) || this.registry.saga(sagaType).definition.sideEffects) return undefined;
      ids.add(messageId);
      const record = this.cache.get(sagaId);
      if (!record) return undefined;
      guesses.set(sagaId, record);
    }
    return this.cache.worthGuessing() ? guesses : undefined;
  }

  /**
   * Applies the replies to the sagas as this process last committed them while `recording` (the inbox rows and the
   * sagas) is on its way, so that the steps' statements follow it instead of waiting for its answer. If the answer
   * shows a duplicate or a saga different from its guess — also when the code failed, maybe on the wrong guess —
   * the transaction is rolled back and run again reading first (see `aheadOf`).
   */
  private applyAhead(
    manager: EntityManager,
    messages: SagaMessage[],
    guesses: Map<string, SagaInstanceRecord>,
    recording: Promise<{ fresh: SagaMessage[]; instances: SagaInstanceRecord[] }>,
    writes: SagaWrites,
    traces: Map<string, Traced>,
  ): Promise<Applied[]> {
    return aheadOf(
      recording,
      () => this.applyInOrder(manager, messages, new Map(guesses), writes, traces),
      (answer) => this.checkGuesses(messages, guesses, answer),
    );
  }

  /** Throws `guessedWrong` when a reply proved a duplicate or a saga differs from its guess (forgotten then). */
  private checkGuesses(
    messages: SagaMessage[],
    guesses: Map<string, SagaInstanceRecord>,
    { fresh, instances }: { fresh: SagaMessage[]; instances: SagaInstanceRecord[] },
  ): void {
    const stored = new Map(instances.map((r) => [r.id, r]));
    const wrong = [...guesses.values()].filter(
      (guess) => !SagaInstanceCache.same(stored.get(guess.id), guess),
    );
    for (const guess of wrong) this.cache.forget(guess.id);
    this.cache.guessed(wrong.length === 0);
    this.metrics.guess(wrong.length > 0 ? 'stale' : fresh.length < messages.length ? 'duplicate' : 'right');
    if (fresh.length < messages.length || wrong.length > 0) {
      throw guessedWrong(
        `${messages.length - fresh.length} duplicate(s), ${wrong.length} saga(s) changed since this process saved them`,
      );
    }
  }

  /** Applies `replies` in order; `latest` holds each saga's record, and then its record after each reply. */
  private async applyInOrder(
    manager: EntityManager,
    replies: SagaMessage[],
    latest: Map<string, SagaInstanceRecord>,
    writes: SagaWrites,
    traces: Map<string, Traced>,
  ): Promise<Applied[]> {
    const results: Applied[] = [];
    for (const message of replies) {
      const record = latest.get(message.sagaId);
      if (!record) throw new SagaNotFoundError(message.sagaId);
      const result = await this.applyReply(manager, message, record, writes, traces.get(message.messageId));
      latest.set(message.sagaId, result.record);
      results.push(result);
    }
    return results;
  }

  private async applyOneReply(message: SagaMessage, traces: Map<string, Traced>): Promise<Disposition> {
    try {
      await withConflictRetries(() => this.applyReplies([message], traces));
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
    record: SagaInstanceRecord,
    writes: SagaWrites,
    traced: Traced | undefined,
  ): Promise<Applied> {
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
    // With the reply's span active: the commands this reply leads to carry it.
    const apply = () =>
      this.processor.apply(manager, this.registry.saga(record.type), record, event, writes, {
        reply: { payload: message.payload },
      });
    const result = await (traced ? runIn(traced, apply) : apply());
    if (result.ignored) this.logger.debug(`Reply ${message.messageId} ignored: ${result.ignored}`);
    return result;
  }

  /**
   * After a commit: hands the outbox rows to the relay and notifies this process's listeners and waiters. Called
   * inside the transaction, after its last write: the callbacks run once it has committed (on PostgreSQL as soon as
   * the COMMIT is answered) and are dropped if it rolls back; when that transaction is nested in the caller's (a
   * `start()` inside a step or handler), they wait for the caller's transaction to commit.
   */
  afterCommit(manager: EntityManager, applied: Applied[], outbox: CommittedMessage[]): void {
    this.transactions.afterCommit(() => this.committed(applied, outbox), manager);
  }

  private committed(applied: Applied[], outbox: CommittedMessage[]): void {
    this.relay.enqueue(outbox);
    for (const a of applied) {
      if (a.ignored || a.rejected) continue;
      if (!this.registry.saga(a.record.type).definition.sideEffects) this.cache.committed(a.record);
      this.metrics.transition(a.record);
      const { id, type, state, currentStep } = a.record;
      this.waiters.notify({
        sagaId: id,
        sagaType: type,
        status: state.status,
        step: currentStep,
        terminal: isTerminal(state.status),
      });
    }
  }
}
