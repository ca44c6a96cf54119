import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OutboxRecord, SagaStore } from '../persistence/saga-store';
import { SAGA_STORE, SAGA_TRANSPORT } from '../saga.constants';
import type { SagaMessage } from '../transport/message';
import type { SagaTransport } from '../transport/transport';
import { SagaMetrics } from './metrics';
import { SagaRuntimeOptions } from './runtime-options';

/** An outbox row as handed over right after its commit: the envelope is already parsed. */
export interface CommittedMessage extends OutboxRecord {
  message: SagaMessage;
}

/**
 * Publishes committed outbox rows. The hot path: the rows a transaction wrote are handed over right after
 * its commit and published in batches (one confirm wait per batch), then marked sent in one statement.
 * The fallback: a periodic sweep claims rows that stayed unsent (a crash between commit and publish, a
 * broker outage) and publishes them. A failed publish leaves the rows for the sweep.
 */
@Injectable()
export class OutboxRelay {
  private readonly logger = new Logger(OutboxRelay.name);
  private pending: CommittedMessage[] = [];
  /** Batches being published: a few at once, so one slow confirm (or in-process handler) does not stall the rest. */
  private readonly flushing = new Set<Promise<unknown>>();
  private sweeping: Promise<void> | null = null;
  private stopped = false;
  private toMark: string[] = [];
  private markTimer: NodeJS.Timeout | null = null;
  private readonly marking = new Set<Promise<void>>();

  constructor(
    @Inject(SAGA_TRANSPORT) private readonly transport: SagaTransport,
    @Inject(SAGA_STORE) private readonly store: SagaStore,
    private readonly options: SagaRuntimeOptions,
    private readonly metrics: SagaMetrics,
  ) {}

  /** Hands over the rows of a transaction that has committed. */
  enqueue(rows: CommittedMessage[]): void {
    if (rows.length === 0 || this.stopped) return;
    this.pending.push(...rows);
    this.flush();
  }

  /** Publishes rows that stayed unsent; returns how many were published. */
  async sweep(): Promise<number> {
    if (this.stopped || this.sweeping) return 0;
    let published = 0;
    this.sweeping = (async () => {
      const { batchSize, sweepAfterMs, leaseMs } = this.options.relay;
      const rows = await this.store.claimUnsent(Date.now() - sweepAfterMs, batchSize, leaseMs);
      if (rows.length === 0) return;
      const batch: CommittedMessage[] = [];
      for (const row of rows) batch.push({ ...row, message: JSON.parse(row.body) as SagaMessage });
      if (await this.publish(batch)) published = batch.length;
    })().finally(() => (this.sweeping = null));
    await this.sweeping;
    return published;
  }

  /** Stops taking new rows and waits for the publishing in progress. Rows not yet published stay in the table. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.flushing.size > 0 || this.sweeping)
      await Promise.allSettled([...this.flushing, this.sweeping]);
    await this.markNow();
    await Promise.allSettled([...this.marking]);
  }

  /** Starts publishing pending rows, up to `relay.concurrency` batches at once; each finished batch starts the next. */
  private flush(): void {
    const { batchSize, concurrency } = this.options.relay;
    while (this.pending.length > 0 && this.flushing.size < concurrency && !this.stopped) {
      const batch = this.pending.splice(0, batchSize);
      const run: Promise<unknown> = this.publish(batch).finally(() => {
        this.flushing.delete(run);
        this.flush();
      });
      this.flushing.add(run);
    }
  }

  private async publish(batch: CommittedMessage[]): Promise<boolean> {
    const ids = batch.map((r) => r.id);
    try {
      await this.transport.publish(batch.map((r) => ({ message: r.message, body: r.body })));
    } catch (error) {
      this.logger.warn(
        `Publishing ${batch.length} message(s) failed, the sweep will retry: ${String(error)}`,
      );
      this.metrics.publish(batch.length, false);
      await this.store.markFailed(ids, String(error)).catch(() => undefined);
      return false;
    }
    this.metrics.publish(batch.length, true);
    this.markLater(ids);
    return true;
  }

  /**
   * Marks published rows sent, coalescing the ids of several batches into one UPDATE (one transaction) per
   * `markDelayMs` or `batchSize` ids: marking is off the saga's critical path, and at low concurrency this halves
   * the relay's commits. Until marked, a row is only re-published by the sweep after `sweepAfterMs` (seconds).
   */
  private markLater(ids: string[]): void {
    this.toMark.push(...ids);
    if (this.toMark.length >= this.options.relay.batchSize) void this.markNow();
    else this.markTimer ??= setTimeout(() => void this.markNow(), this.options.relay.markDelayMs);
  }

  private async markNow(): Promise<void> {
    if (this.markTimer) clearTimeout(this.markTimer);
    this.markTimer = null;
    const ids = this.toMark.splice(0);
    if (ids.length === 0) return;
    const marking = this.store.markSent(ids).catch((error: unknown) => {
      // Published but not marked: the sweep publishes them again; receivers deduplicate with their inbox.
      this.logger.warn(`Marking ${ids.length} message(s) sent failed: ${String(error)}`);
    });
    this.marking.add(marking);
    await marking;
    this.marking.delete(marking);
  }
}
