import type { EntityManager } from 'typeorm';
import type { SagaState, StepLogEntry } from '../engine/saga-state';

/** One saga instance as stored in `saga_instance`. Times are epoch ms. */
export interface SagaInstanceRecord {
  id: string;
  type: string;
  definitionVersion: number;
  state: SagaState;
  /** The current step's name (kept in its own column for operators' queries). */
  currentStep: string;
  /** The saga's data, as the steps left it. */
  data: Record<string, unknown>;
  /** When the timer sweep must look at the saga again (retry, reply timeout, deadline); null when finished. */
  dueAt: number | null;
  /** Optimistic lock: incremented by every update. */
  version: number;
  /** Caller-chosen key that makes `start` idempotent; null when none was given. */
  idempotencyKey: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One row of a saga's history (`saga_step_log`), in the order it was written. */
export interface StepLogRecord extends StepLogEntry {
  sagaId: string;
}

/** A committed outbox row: a message waiting to be (or already) published. */
export interface OutboxRecord {
  /** Database id, increasing in insertion order. */
  id: string;
  messageId: string;
  /** The serialised `SagaMessage` (JSON). */
  body: string;
  createdAt: number;
  attempts: number;
}

/**
 * The writes of one transaction's work (a batch of starts, of replies or of commands), made together at its end:
 * on PostgreSQL in ONE statement, elsewhere in one statement per table.
 */
export interface SagaWriteSet {
  /** New instances. */
  inserted: SagaInstanceRecord[];
  /** Changed instances, each saved only if its stored version is still `expectedVersion`. */
  updated: { record: SagaInstanceRecord; expectedVersion: number }[];
  log: StepLogRecord[];
  outbox: { messageId: string; body: string }[];
}

export interface SagaWriteResult {
  /** The outbox rows, in the order given, with their ids. */
  outbox: OutboxRecord[];
  /** Ids of `updated` instances whose stored version had changed: they were not saved, roll back and retry. */
  stale: string[];
}

/** Filters for operators' listings. */
export interface SagaQuery {
  status?: string[];
  type?: string;
  /** Only sagas last updated before this (epoch ms): "stuck for longer than…". */
  updatedBefore?: number;
  limit?: number;
}

/**
 * The persistence port. Every method that takes an `EntityManager` runs in the caller's transaction;
 * the others open their own. Implemented over TypeORM for PostgreSQL, MySQL/MariaDB and SQLite.
 */
export interface SagaStore {
  insertInstance(manager: EntityManager, record: SagaInstanceRecord): Promise<void>;
  findInstance(manager: EntityManager, id: string): Promise<SagaInstanceRecord | null>;
  /** The instances with these ids (those that exist), in one query. */
  findInstances(manager: EntityManager, ids: string[]): Promise<SagaInstanceRecord[]>;
  findInstanceByIdempotencyKey(manager: EntityManager, key: string): Promise<SagaInstanceRecord | null>;
  /**
   * Saves `record` if the stored version is still `record.version - 1`
   * (`UPDATE … WHERE id = ? AND version = ?`). Returns false when another writer got there first.
   */
  updateInstance(manager: EntityManager, record: SagaInstanceRecord): Promise<boolean>;
  /** Appends history rows (one multi-row INSERT). The unique (saga, step, phase, attempt) key rejects replays. */
  appendLog(manager: EntityManager, sagaId: string, entries: StepLogEntry[]): Promise<void>;
  /** Appends history rows of several sagas at once (one multi-row INSERT): a batch of replies writes them together. */
  appendLogs(manager: EntityManager, records: StepLogRecord[]): Promise<void>;
  history(manager: EntityManager, sagaId: string): Promise<StepLogRecord[]>;
  /** Ids of non-terminal sagas whose wake-up time (retry, timeout or deadline) is at or before `now`. */
  findDue(manager: EntityManager, now: number, limit: number): Promise<string[]>;
  list(manager: EntityManager, query: SagaQuery): Promise<SagaInstanceRecord[]>;

  /**
   * Records `messageIds` as processed by `consumer` and returns the ids that were already recorded
   * (duplicates: their handlers must not run again). Must be called inside the transaction that
   * commits the messages' effects.
   */
  recordInbox(manager: EntityManager, consumer: string, messageIds: string[]): Promise<Set<string>>;
  /**
   * `recordInbox` and `findInstances` together (one statement on PostgreSQL): what a batch of replies needs
   * before it is applied.
   */
  recordInboxAndFindInstances(
    manager: EntityManager,
    consumer: string,
    messageIds: string[],
    sagaIds: string[],
  ): Promise<{ duplicates: Set<string>; instances: SagaInstanceRecord[] }>;

  /**
   * Makes all the writes of `set` in the caller's transaction. A stale instance is reported, not thrown: the
   * caller must then roll the transaction back (the other writes were made, or the transaction is aborted).
   * `last`: nothing follows in this transaction, so the store may have the COMMIT sent along (PostgreSQL).
   */
  write(manager: EntityManager, set: SagaWriteSet, options?: { last?: boolean }): Promise<SagaWriteResult>;

  /** Inserts outbox rows (one multi-row INSERT) and returns them with their ids. */
  insertOutbox(manager: EntityManager, rows: { messageId: string; body: string }[]): Promise<OutboxRecord[]>;
  /** Marks rows as published (one statement). Own transaction. */
  markSent(ids: string[]): Promise<void>;
  /** Records a failed publish attempt for these rows (they stay unsent). Own transaction. */
  markFailed(ids: string[], error: string): Promise<void>;
  /**
   * Claims up to `limit` unsent rows created before `olderThan` (epoch ms), oldest first, for publishing.
   * Claiming sets a lease (`claimed_until = now + leaseMs`) on the rows, selected with `FOR UPDATE SKIP LOCKED`
   * on PostgreSQL and MySQL/MariaDB, so several relays over one database do not publish the same row;
   * rows whose lease expired (a relay died) can be claimed again. `markSent`/`markFailed` end the lease.
   */
  claimUnsent(olderThan: number, limit: number, leaseMs: number): Promise<OutboxRecord[]>;

  /** Deletes sent outbox rows, inbox rows and finished sagas' history older than the given ages. */
  purge(options: {
    sentOutboxBefore: number;
    inboxBefore: number;
    finishedSagasBefore?: number;
  }): Promise<number>;
}
