import type { SagaTransport } from './transport/transport';

/** Options of `SagaModule.forRoot()` / `forRootAsync()`. */
export interface SagaModuleOptions {
  /**
   * This service's name. It names the reply queue of the sagas it coordinates and the inbox consumers.
   * Keep it stable: it is stored. Example: `order`.
   */
  service: string;
  /** How messages move. Default: the in-process transport (one process, a monolith or a test). */
  transport?: SagaTransport;
  /**
   * Connect to the transport and consume at bootstrap. Default true. Set false for a process that must boot
   * without the broker (running migrations, a CLI): `start()` still writes sagas; the outbox keeps the messages.
   */
  consume?: boolean;
  /** The outbox relay. */
  relay?: {
    /** Most rows published in one batch (one confirm wait). Default 256. */
    batchSize?: number;
    /** Batches published at once (each waits for its own confirms). Default 4. */
    concurrency?: number;
    /** Published rows are marked sent in one statement per this many ms (or per `batchSize` rows). Default 50. */
    markDelayMs?: number;
    /** How often the relay looks for rows that were not published right after their commit (a crash, a broker outage). Default 1000 ms. */
    sweepIntervalMs?: number;
    /** A row is swept (re-published) when it is older than this and still unsent. Default 5000 ms. */
    sweepAfterMs?: number;
  };
  /** The saga tables' database. */
  database?: {
    /**
     * PostgreSQL: statements are prepared once per pooled connection (named statements), which saves their parsing
     * and planning — the library's own, and (with `pipelining`) the parameterized statements your steps and handlers
     * run inside the library's transactions, from their second run on. Default true. `'library'`: the library's
     * own only. Set false behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode before
     * 1.21, or without `max_prepared_statements`).
     */
    preparedStatements?: boolean | 'library';
    /**
     * PostgreSQL: the library's transactions send BEGIN together with their first statement and COMMIT together
     * with their last (`pg`'s pipeline mode, node-postgres ≥ 8.19): two round trips less per transaction. Default
     * true. Set false behind a pooler that does not support pipelined queries.
     */
    pipelining?: boolean;
    /**
     * `start()` called inside a step, a command handler or an `@OnReply` method joins that transaction without
     * being told which — the library follows the async context (`AsyncLocalStorage`). Default true. On Node 20 that
     * hooks every promise of the process: ~15 % of the library's CPU per command in `bench:participant`, a few % of
     * a distributed service's (see the README). Set false in a service that never starts sagas from inside a step or
     * handler, or passes `{ manager: ctx.manager }` to `start()` where it does; a `start()` without it then has its
     * own transaction. Ignored (always true) on SQLite. Gains nothing when something else in the process already
     * uses `AsyncLocalStorage` (OpenTelemetry's context manager, nestjs-cls).
     */
    implicitJoin?: boolean;
  };
  /** How often the coordinator looks for due retries, expired reply timeouts and passed deadlines. Default 500 ms. */
  timerIntervalMs?: number;
  /** Retention of processed rows (cleanup runs with the timer). Defaults: sent outbox rows 1 h, inbox rows 7 days, finished sagas kept. */
  retention?: {
    sentOutboxMs?: number;
    inboxMs?: number;
    /** Delete COMPLETED/COMPENSATED sagas and their history older than this. Default: keep them. */
    finishedSagasMs?: number;
    /** How often the cleanup runs. Default 60 s. */
    intervalMs?: number;
  };
}
