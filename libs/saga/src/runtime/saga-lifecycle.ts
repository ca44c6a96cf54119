import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import type { SagaStore } from '../persistence/saga-store';
import { SAGA_DATA_SOURCE, SAGA_STORE, SAGA_TRANSPORT } from '../saga.constants';
import { guardPoolErrors } from '../persistence/typeorm/pool-errors';
import { SagaTransactions } from '../persistence/typeorm/transactions';
import type { DataSource } from 'typeorm';
import type { SagaTransport } from '../transport/transport';
import { InProcessTransport } from '../transport/in-process/in-process.transport';
import { OutboxRelay } from './outbox-relay';
import { ParticipantRuntime } from './participant-runtime';
import { SagaCoordinator } from './saga-coordinator';
import { SagaExplorer } from './saga-explorer';
import { SagaRegistry } from './saga-registry';
import { SagaRuntimeOptions } from './runtime-options';

/**
 * Wires the runtime to Nest's lifecycle: definitions are built and validated at module init (a bad one fails
 * boot); the transport connects and consumers start at application bootstrap; the timers (relay sweep, due
 * sagas, retention) run until shutdown, which stops consuming, drains the relay and closes the transport
 * before the data source is destroyed.
 */
@Injectable()
export class SagaLifecycle implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('SagaModule');
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(
    private readonly explorer: SagaExplorer,
    private readonly registry: SagaRegistry,
    private readonly coordinator: SagaCoordinator,
    private readonly participants: ParticipantRuntime,
    private readonly relay: OutboxRelay,
    @Inject(SAGA_TRANSPORT) private readonly transport: SagaTransport,
    @Inject(SAGA_STORE) private readonly store: SagaStore,
    @Inject(SAGA_DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly options: SagaRuntimeOptions,
    private readonly transactions: SagaTransactions,
  ) {}

  onModuleInit(): void {
    this.explorer.explore(this.transport instanceof InProcessTransport);
    guardPoolErrors(this.dataSource, (message) => this.logger.warn(message));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.consume) return;
    const participants = this.registry.participants();
    const coordinates = this.registry.sagas().length > 0;
    await this.transport.connect({ participants, replies: coordinates ? this.options.service : undefined });
    for (const participant of participants) {
      await this.transport.consume({ commandsFor: participant }, (batch) =>
        this.participants.handleCommands(participant, batch),
      );
    }
    if (coordinates) {
      await this.transport.consume({ repliesFor: this.options.service }, (batch) =>
        this.coordinator.handleReplies(batch),
      );
      this.every(this.options.timerIntervalMs, () => this.coordinator.fireDueTimers());
    }
    this.every(this.options.relay.sweepIntervalMs, () => this.relay.sweep());
    this.every(this.options.retention.intervalMs, () => this.purge());
    // Resume what a crash interrupted: unsent messages and overdue timers, without waiting for the first tick.
    void this.track(this.relay.sweep());
    if (coordinates) void this.track(this.coordinator.fireDueTimers());
    this.logger.log(
      `Service '${this.options.service}' on ${this.transport.name}: ${this.registry.sagas().length} saga(s), ` +
        `participants [${participants.join(', ')}]`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.allSettled([...this.running]);
    // Rows committed after the relay stops stay in the outbox: the next start (or another replica) sweeps them.
    await this.relay.stop();
    await this.transport.close();
    // The connection kept for the next transaction goes back to the pool before TypeORM closes it.
    await this.transactions.close();
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.stopping) return;
      busy = true;
      void this.track(task()).finally(() => (busy = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private track(task: Promise<unknown>): Promise<unknown> {
    const guarded = task.catch((error: unknown) =>
      this.logger.warn(`Background task failed: ${String(error)}`),
    );
    this.running.add(guarded);
    void guarded.finally(() => this.running.delete(guarded));
    return guarded;
  }

  private async purge(): Promise<void> {
    const now = Date.now();
    const { sentOutboxMs, inboxMs, finishedSagasMs } = this.options.retention;
    await this.store.purge({
      sentOutboxBefore: now - sentOutboxMs,
      inboxBefore: now - inboxMs,
      finishedSagasBefore: finishedSagasMs === undefined ? undefined : now - finishedSagasMs,
    });
  }
}
