import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { initialState } from '../engine/saga-engine';
import { IdempotencyKeyConflictError, SagaError } from '../errors/saga.errors';
import type { SagaInstanceRecord, SagaStore } from '../persistence/saga-store';
import { SagaTransactions } from '../persistence/typeorm/transactions';
import { SAGA_STORE } from '../saga.constants';
import { withConflictRetries } from './conflicts';
import { runOptimistically } from './optimistic';
import { SagaCoordinator } from './saga-coordinator';
import { SagaProcessor, SagaWrites } from './saga-processor';
import type { Applied } from './saga-processor';
import type { RegisteredSaga } from './saga-registry';
import {
  activeContext,
  endingSpan,
  runIn,
  SAGA_ATTRIBUTES,
  SpanKind,
  startTraced,
  type Traced,
} from './tracing';

/** How a saga is started: its id (chosen by the caller or not), idempotency key, and the transaction to join. */
export interface StartHow {
  id: string;
  idChosen: boolean;
  idempotencyKey?: string;
  /** The manager of an open transaction of this process to start the saga in (`StartOptions.manager`). */
  within?: EntityManager;
}

/** Most sagas started in one transaction. */
const MAX_BATCH = 64;

interface StartRequest {
  saga: RegisteredSaga;
  data: Record<string, unknown>;
  id: string;
  idChosen: boolean;
  idempotencyKey?: string;
  /** The start's span, under the caller's, active while the saga's first steps run. */
  trace: Traced;
  resolve: (record: SagaInstanceRecord) => void;
  reject: (error: unknown) => void;
}

/**
 * Starts sagas. The `start()` calls made in the same turn of the event loop are committed together, in one
 * transaction (group commit): under load this turns N start transactions into one, with each saga's own local
 * steps still in their own savepoints. If that transaction fails, each start is retried alone, so one bad start
 * cannot fail the others. A lone call costs no more than before.
 */
@Injectable()
export class SagaStarter {
  private readonly logger = new Logger(SagaStarter.name);
  private queue: StartRequest[] = [];
  private scheduled = false;

  constructor(
    private readonly processor: SagaProcessor,
    private readonly transactions: SagaTransactions,
    @Inject(SAGA_STORE) private readonly store: SagaStore,
    private readonly coordinator: SagaCoordinator,
  ) {}

  /**
   * Creates and starts a saga; resolves with its id once the transaction has committed. With an idempotency key
   * (or a caller-chosen id) already used, resolves with the saga that has it (its data wins) — unless that saga is
   * of another type, which is refused.
   */
  async start(saga: RegisteredSaga, data: Record<string, unknown>, how: StartHow): Promise<string> {
    if (how.within && !this.transactions.isOpen(how.within)) {
      throw new SagaError(
        `start(${saga.definition.name}): 'manager' must be the ctx.manager of a step, command handler or @OnReply ` +
          'method, passed while that code runs; this one is not the manager of an open saga transaction.',
      );
    }
    // Its first command carries this span's context: the saga's trace hangs under the caller's span.
    const trace = startTraced(`saga start ${saga.definition.name}`, SpanKind.PRODUCER, activeContext(), {
      [SAGA_ATTRIBUTES.type]: saga.definition.name,
    });
    return endingSpan(trace.span, async () => {
      const record =
        how.within || this.transactions.inTransaction()
          ? await this.startInCurrentTransaction(saga, data, how, trace)
          : await new Promise<SagaInstanceRecord>((resolve, reject) => {
              this.queue.push({ saga, data, ...how, trace, resolve, reject });
              if (!this.scheduled) {
                this.scheduled = true;
                // Scheduled from outside any transaction, so the batch runs in its own (see startInCurrentTransaction).
                setImmediate(() => this.drain());
              }
            });
      trace.span.setAttribute(SAGA_ATTRIBUTES.id, record.id);
      if (record.type !== saga.definition.name) {
        throw new IdempotencyKeyConflictError(
          how.idempotencyKey ?? how.id,
          record.id,
          record.type,
          saga.definition.name,
        );
      }
      return record.id;
    });
  }

  /**
   * A `start()` made inside an open transaction (a step, a command handler, the caller's own `run()`) joins it, alone:
   * the saga commits or rolls back with the caller's work. Batched with others, it would either pull unrelated starts
   * into the caller's transaction or, on SQLite, wait behind that transaction for ever.
   */
  private async startInCurrentTransaction(
    saga: RegisteredSaga,
    data: Record<string, unknown>,
    how: StartHow,
    trace: StartRequest['trace'],
  ): Promise<SagaInstanceRecord> {
    const unused = () => undefined;
    const { within, ...request } = how;
    const [record] = await this.startAll(
      [{ saga, data, ...request, trace, resolve: unused, reject: unused }],
      within,
    );
    return record;
  }

  private drain(): void {
    this.scheduled = false;
    while (this.queue.length > 0) void this.run(this.queue.splice(0, MAX_BATCH));
  }

  private async run(batch: StartRequest[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const records = await this.startAll(batch);
        batch.forEach((request, i) => request.resolve(records[i]));
        return;
      } catch (error) {
        this.logger.debug(
          `Starting ${batch.length} sagas together failed, starting them one by one: ${String(error)}`,
        );
      }
    }
    await Promise.all(
      batch.map((request) =>
        withConflictRetries(() => this.startAll([request])).then(
          ([record]) => request.resolve(record),
          request.reject,
        ),
      ),
    );
  }

  /**
   * Starts every request in one transaction — in `within`'s, as a savepoint, when given — and returns each one's
   * saga (the existing one for a reused key).
   */
  private async startAll(batch: StartRequest[], within?: EntityManager): Promise<SagaInstanceRecord[]> {
    return runOptimistically(
      this.transactions,
      async (manager, isolation) => {
        const writes = new SagaWrites(isolation);
        const started: Applied[] = [];
        const result: SagaInstanceRecord[] = [];
        for (const request of batch) {
          const existing = await this.existing(manager, request);
          if (existing) {
            result.push(existing);
            continue;
          }
          const a = await runIn(request.trace, () =>
            this.processor.apply(manager, request.saga, fresh(request), { type: 'start' }, writes, {
              isNew: true,
            }),
          );
          started.push(a);
          result.push(a.record);
        }
        this.coordinator.afterCommit(manager, started, await this.processor.flush(manager, writes));
        return result;
      },
      { within },
    );
  }

  private async existing(manager: EntityManager, request: StartRequest): Promise<SagaInstanceRecord | null> {
    if (request.idempotencyKey !== undefined) {
      const byKey = await this.store.findInstanceByIdempotencyKey(manager, request.idempotencyKey);
      if (byKey) return byKey;
    }
    return request.idChosen ? this.store.findInstance(manager, request.id) : null;
  }
}

function fresh(request: StartRequest): SagaInstanceRecord {
  const { saga, id, data, idempotencyKey } = request;
  const now = Date.now();
  return {
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
}
