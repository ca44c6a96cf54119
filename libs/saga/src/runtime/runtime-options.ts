import { SagaError } from '../errors/saga.errors';
import type { SagaModuleOptions } from '../saga-module.options';

/** The module options with every default filled in. */
export class SagaRuntimeOptions {
  readonly service: string;
  readonly consume: boolean;
  readonly relay: {
    batchSize: number;
    concurrency: number;
    markDelayMs: number;
    sweepIntervalMs: number;
    sweepAfterMs: number;
    leaseMs: number;
  };
  readonly timerIntervalMs: number;
  readonly retention: { sentOutboxMs: number; inboxMs: number; finishedSagasMs?: number; intervalMs: number };
  /**
   * `database.*` resolved: `pipelining` as given (the transactions default it); `prepareLibrary`: the library's own
   * statements prepared (`preparedStatements` not false); `prepareRepeated`: the steps' and handlers' repeated ones
   * too (`preparedStatements` true, the default); `implicitJoin` (default true).
   */
  readonly database: {
    pipelining?: boolean;
    prepareLibrary: boolean;
    prepareRepeated: boolean;
    implicitJoin: boolean;
  };

  constructor(options: SagaModuleOptions) {
    const prepared = options.database?.preparedStatements;
    if (prepared !== undefined && prepared !== true && prepared !== false && prepared !== 'library') {
      throw new SagaError(
        `SagaModule: 'database.preparedStatements' must be true, false or 'library', got ${JSON.stringify(prepared)}.`,
      );
    }
    const implicitJoin = options.database?.implicitJoin;
    if (implicitJoin !== undefined && typeof implicitJoin !== 'boolean') {
      throw new SagaError(
        `SagaModule: 'database.implicitJoin' must be true or false, got ${JSON.stringify(implicitJoin)}.`,
      );
    }
    this.database = {
      pipelining: options.database?.pipelining,
      prepareLibrary: prepared !== false,
      prepareRepeated: (prepared ?? true) === true,
      implicitJoin: implicitJoin ?? true,
    };
    this.service = options.service;
    this.consume = options.consume ?? true;
    this.relay = {
      batchSize: options.relay?.batchSize ?? 256,
      concurrency: options.relay?.concurrency ?? 4,
      markDelayMs: options.relay?.markDelayMs ?? 50,
      sweepIntervalMs: options.relay?.sweepIntervalMs ?? 1_000,
      sweepAfterMs: options.relay?.sweepAfterMs ?? 5_000,
      leaseMs: 30_000,
    };
    this.timerIntervalMs = options.timerIntervalMs ?? 500;
    this.retention = {
      sentOutboxMs: options.retention?.sentOutboxMs ?? 60 * 60_000,
      inboxMs: options.retention?.inboxMs ?? 7 * 24 * 60 * 60_000,
      finishedSagasMs: options.retention?.finishedSagasMs,
      intervalMs: options.retention?.intervalMs ?? 60_000,
    };
  }
}
