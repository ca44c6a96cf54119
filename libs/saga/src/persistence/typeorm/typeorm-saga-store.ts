import type { DataSource, EntityManager } from 'typeorm';
import type { StepLogEntry } from '../../engine/saga-state';
import { TERMINAL_STATUSES } from '../../engine/saga-state';
import type {
  OutboxRecord,
  SagaInstanceRecord,
  SagaQuery,
  SagaStore,
  SagaWriteResult,
  SagaWriteSet,
  StepLogRecord,
} from '../saga-store';
import { INSTANCE_COLUMNS, ALL_INSTANCE_COLUMNS, instanceValues, toInstance } from './instance-rows';
import { SagaError } from '../../errors/saga.errors';
import {
  PG_WRITE_SET_MAX_PARAMS,
  pgRecordInboxAndFind,
  pgWriteSet,
  pgWriteSetParams,
  staleIds,
} from './pg-write-set';
import { chunks, execute, json, list, num, SagaSql, str, values } from './saga-sql';
import { SagaTransactions } from './transactions';
import { TypeOrmOutbox } from './typeorm-outbox';
import { isUniqueViolation } from './unique-violation';

export interface TypeOrmSagaStoreOptions {
  /** Rows deleted per statement (and per transaction) by `purge`. Default 1000. */
  purgeBatchSize?: number;
  /**
   * PostgreSQL: prepare the store's own statements once per connection (named statements). Default true. Turn off
   * behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
   */
  preparedStatements?: boolean;
}

const INSERT_INSTANCE =
  `INSERT INTO {instance} (id, type, ${INSTANCE_COLUMNS.join(', ')}, idempotency_key, created_at) ` +
  `VALUES (${list(INSTANCE_COLUMNS.length + 4)})`;
const UPDATE_INSTANCE =
  `UPDATE {instance} SET ${INSTANCE_COLUMNS.map((c) => `${c} = ?`).join(', ')} ` +
  'WHERE id = ? AND version = ?';
const LOG_COLUMNS = 'saga_id, step, phase, attempt, outcome, detail, at';
/** Rows per multi-row statement: far below every driver's limit on bound parameters. */
const CHUNK = 500;

/**
 * `SagaStore` over the application's TypeORM DataSource: PostgreSQL, MySQL/MariaDB or SQLite (better-sqlite3).
 * Hand-written SQL, one statement per call where the database allows it (multi-row inserts, a conditional update
 * for the optimistic lock, `RETURNING`), since every round trip is paid on the saga's hot path.
 * The DataSource must be initialised, with `sagaEntities` among its entities.
 */
export class TypeOrmSagaStore implements SagaStore {
  private readonly sql: SagaSql;
  private readonly transactions: SagaTransactions;
  private readonly outbox: TypeOrmOutbox;
  private readonly purgeBatchSize: number;

  /**
   * @param transactions the helper the store's own transactions (`claimUnsent`, `markSent`, `purge`…) go through.
   *   On SQLite it MUST be the instance the rest of the application uses for this DataSource (see
   *   `SagaTransactions`).
   */
  constructor(
    dataSource: DataSource,
    transactions: SagaTransactions = new SagaTransactions(dataSource),
    options: TypeOrmSagaStoreOptions = {},
  ) {
    this.sql = new SagaSql(dataSource, options.preparedStatements ?? true);
    this.transactions = transactions;
    this.outbox = new TypeOrmOutbox(this.sql, this.transactions);
    this.purgeBatchSize = options.purgeBatchSize ?? 1000;
  }

  async insertInstance(manager: EntityManager, record: SagaInstanceRecord): Promise<void> {
    await execute(manager, this.sql.compile(INSERT_INSTANCE), [
      record.id,
      record.type,
      ...instanceValues(record),
      record.idempotencyKey,
      record.createdAt,
    ]);
  }

  async findInstance(manager: EntityManager, id: string): Promise<SagaInstanceRecord | null> {
    const { rows } = await execute(
      manager,
      this.sql.compile(`SELECT ${ALL_INSTANCE_COLUMNS} FROM {instance} WHERE id = ?`),
      [id],
    );
    return rows.length > 0 ? toInstance(rows[0]) : null;
  }

  async findInstances(manager: EntityManager, ids: string[]): Promise<SagaInstanceRecord[]> {
    const found: SagaInstanceRecord[] = [];
    for (const chunk of chunks([...new Set(ids)], CHUNK)) {
      const sql = this.sql.compile(
        `SELECT ${ALL_INSTANCE_COLUMNS} FROM {instance} WHERE id IN (${list(chunk.length)})`,
      );
      const { rows } = await execute(manager, sql, chunk);
      found.push(...rows.map(toInstance));
    }
    return found;
  }

  async findInstanceByIdempotencyKey(
    manager: EntityManager,
    key: string,
  ): Promise<SagaInstanceRecord | null> {
    const sql = this.sql.compile(`SELECT ${ALL_INSTANCE_COLUMNS} FROM {instance} WHERE idempotency_key = ?`);
    const { rows } = await execute(manager, sql, [key]);
    return rows.length > 0 ? toInstance(rows[0]) : null;
  }

  async updateInstance(manager: EntityManager, record: SagaInstanceRecord): Promise<boolean> {
    return this.updateFrom(manager, record, record.version - 1);
  }

  /** Saves `record` if the stored version is still `expectedVersion`; false when another writer got there first. */
  private async updateFrom(
    manager: EntityManager,
    record: SagaInstanceRecord,
    expectedVersion: number,
  ): Promise<boolean> {
    const params = [...instanceValues(record), record.id, expectedVersion];
    const { affected } = await execute(manager, this.sql.compile(UPDATE_INSTANCE), params);
    return affected === 1;
  }

  async appendLog(manager: EntityManager, sagaId: string, entries: StepLogEntry[]): Promise<void> {
    await this.appendLogs(
      manager,
      entries.map((e) => ({ ...e, sagaId })),
    );
  }

  async appendLogs(manager: EntityManager, records: StepLogRecord[]): Promise<void> {
    for (const chunk of chunks(records, CHUNK)) {
      const sql = `INSERT INTO {stepLog} (${LOG_COLUMNS}) VALUES ${values(chunk.length, 7)}`;
      const params = chunk.flatMap((e) => [
        e.sagaId,
        e.step,
        e.phase,
        e.attempt,
        e.outcome,
        e.detail ? JSON.stringify(e.detail) : null,
        e.at,
      ]);
      await execute(manager, this.sql.compile(sql), params);
    }
  }

  async history(manager: EntityManager, sagaId: string): Promise<StepLogRecord[]> {
    const sql = this.sql.compile(`SELECT ${LOG_COLUMNS} FROM {stepLog} WHERE saga_id = ? ORDER BY id`);
    const { rows } = await execute(manager, sql, [sagaId]);
    return rows.map((row) => ({
      sagaId: str(row.saga_id),
      step: str(row.step),
      phase: str(row.phase) as StepLogRecord['phase'],
      attempt: num(row.attempt),
      outcome: str(row.outcome) as StepLogRecord['outcome'],
      detail: json<Record<string, unknown>>(row.detail),
      at: num(row.at),
    }));
  }

  async findDue(manager: EntityManager, now: number, limit: number): Promise<string[]> {
    // The runtime sets due_at to null when a saga finishes; the status check guards against a stale value.
    const sql = this.sql.compile(
      "SELECT id FROM {instance} WHERE due_at <= ? AND status IN ('RUNNING', 'COMPENSATING') ORDER BY due_at LIMIT ?",
    );
    const { rows } = await execute(manager, sql, [now, limit]);
    return rows.map((row) => str(row.id));
  }

  /** Most recently updated first. */
  async list(manager: EntityManager, query: SagaQuery): Promise<SagaInstanceRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.status && query.status.length > 0) {
      where.push(`status IN (${list(query.status.length)})`);
      params.push(...query.status);
    }
    if (query.type !== undefined) {
      where.push('type = ?');
      params.push(query.type);
    }
    if (query.updatedBefore !== undefined) {
      where.push('updated_at < ?');
      params.push(query.updatedBefore);
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')} ` : '';
    const sql = this.sql.compile(
      `SELECT ${ALL_INSTANCE_COLUMNS} FROM {instance} ${filter}ORDER BY updated_at DESC, id LIMIT ?`,
    );
    const { rows } = await execute(manager, sql, [...params, query.limit ?? 100]);
    return rows.map(toInstance);
  }

  /**
   * `INSERT … ON CONFLICT DO NOTHING RETURNING` on PostgreSQL and SQLite: a recorded id is skipped without an
   * error (which would abort a PostgreSQL transaction), and a concurrent transaction recording the same id waits
   * for this one and then sees it as a duplicate. MySQL/MariaDB: see `insertNewInboxIds`, same outcome.
   * An id given twice in one call is recorded once and not reported: pass distinct ids.
   */
  async recordInbox(manager: EntityManager, consumer: string, messageIds: string[]): Promise<Set<string>> {
    const ids = [...new Set(messageIds)];
    const recorded = new Set<string>();
    for (const chunk of chunks(ids, CHUNK)) {
      const inserted =
        this.sql.family === 'mysql'
          ? await this.insertNewInboxIds(manager, consumer, chunk)
          : await this.insertInbox(manager, consumer, chunk);
      for (const id of inserted) recorded.add(id);
    }
    return new Set(ids.filter((id) => !recorded.has(id)));
  }

  async recordInboxAndFindInstances(
    manager: EntityManager,
    consumer: string,
    messageIds: string[],
    sagaIds: string[],
  ): Promise<{ duplicates: Set<string>; instances: SagaInstanceRecord[] }> {
    const ids = [...new Set(messageIds)];
    const sagas = [...new Set(sagaIds)];
    const small = ids.length > 0 && sagas.length > 0 && ids.length * 3 + sagas.length <= CHUNK;
    if (this.sql.family !== 'postgres' || !small) {
      const duplicates = await this.recordInbox(manager, consumer, ids);
      return { duplicates, instances: sagas.length > 0 ? await this.findInstances(manager, sagas) : [] };
    }
    const { sql, params } = pgRecordInboxAndFind(consumer, ids, sagas, Date.now());
    const { rows } = await execute(manager, this.sql.compile(sql), params);
    const recorded = new Set(rows.flatMap((row) => (row.recorded as string[] | null) ?? []));
    return {
      duplicates: new Set(ids.filter((id) => !recorded.has(id))),
      instances: rows.filter((row) => row.id !== null && row.id !== undefined).map(toInstance),
    };
  }

  /** Inserts inbox rows and returns the ids inserted (on PostgreSQL and SQLite, skipping the recorded ones). */
  private async insertInbox(manager: EntityManager, consumer: string, ids: string[]): Promise<string[]> {
    let insert = `INSERT INTO {inbox} (consumer, message_id, processed_at) VALUES ${values(ids.length, 3)}`;
    if (this.sql.family !== 'mysql') insert += ' ON CONFLICT DO NOTHING RETURNING message_id';
    const processedAt = Date.now();
    const params = ids.flatMap((id) => [consumer, id, processedAt]);
    const { rows } = await execute(manager, this.sql.compile(insert), params);
    return this.sql.family === 'mysql' ? ids : rows.map((row) => str(row.message_id));
  }

  /**
   * MySQL/MariaDB (no `ON CONFLICT … RETURNING`): SELECTs the recorded ids, INSERTs the others, returns these.
   * If a concurrent transaction records one of them meanwhile, the INSERT waits for it to end and then fails
   * with ER_DUP_ENTRY, which on MySQL undoes that statement only, not the transaction: the ids are read again
   * with a locking read (it sees the latest commits, where a plain SELECT sees the transaction's snapshot) and
   * the rest inserted.
   */
  private async insertNewInboxIds(
    manager: EntityManager,
    consumer: string,
    ids: string[],
  ): Promise<string[]> {
    const unrecorded = async (candidates: string[], lock = '') => {
      const select = `SELECT message_id FROM {inbox} WHERE consumer = ? AND message_id IN (${list(candidates.length)})`;
      const { rows } = await execute(manager, this.sql.compile(select + lock), [consumer, ...candidates]);
      const known = new Set(rows.map((row) => str(row.message_id)));
      return candidates.filter((id) => !known.has(id));
    };
    let fresh = await unrecorded(ids);
    try {
      return fresh.length > 0 ? await this.insertInbox(manager, consumer, fresh) : fresh;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    fresh = await unrecorded(fresh, ' FOR UPDATE');
    return fresh.length > 0 ? this.insertInbox(manager, consumer, fresh) : fresh;
  }

  async write(
    manager: EntityManager,
    set: SagaWriteSet,
    options: { last?: boolean } = {},
  ): Promise<SagaWriteResult> {
    const empty = set.inserted.length + set.updated.length + set.log.length + set.outbox.length === 0;
    if (empty) return { outbox: [], stale: [] };
    if (this.sql.family === 'postgres' && pgWriteSetParams(set) <= PG_WRITE_SET_MAX_PARAMS) {
      return this.writeInOneStatement(manager, set, options.last ?? false);
    }
    for (const record of set.inserted) await this.insertInstance(manager, record);
    const stale: string[] = [];
    for (const { record, expectedVersion } of set.updated) {
      if (!(await this.updateFrom(manager, record, expectedVersion))) stale.push(record.id);
    }
    if (set.log.length > 0) await this.appendLogs(manager, set.log);
    const outbox = set.outbox.length > 0 ? await this.insertOutbox(manager, set.outbox) : [];
    return { outbox, stale };
  }

  /** `last`: the transaction's COMMIT may be sent along (see `SagaTransactions.commitAfterNextStatement`). */
  private async writeInOneStatement(
    manager: EntityManager,
    set: SagaWriteSet,
    last: boolean,
  ): Promise<SagaWriteResult> {
    const now = Date.now();
    const { sql, params } = pgWriteSet(set, now);
    const compiled = this.sql.compile(sql);
    // Safe to commit along: the statement fails (and the COMMIT becomes a ROLLBACK) when a saga is stale.
    if (last) this.transactions.commitAfterNextStatement(manager);
    let rows;
    try {
      ({ rows } = await execute(manager, compiled, params));
    } catch (error) {
      const stale = staleIds(error);
      if (stale) return { outbox: [], stale: stale.length > 0 ? stale : set.updated.map((u) => u.record.id) };
      throw error;
    }
    // Only outbox rows come back: a stale saga made the statement fail (above).
    const outboxIds = new Map(rows.map((row) => [str(row.b), str(row.a)]));
    if (outboxIds.size !== set.outbox.length) {
      throw new SagaError(`The outbox INSERT returned ${outboxIds.size} ids for ${set.outbox.length} rows.`);
    }
    return {
      outbox: set.outbox.map((row) => ({
        id: outboxIds.get(row.messageId)!,
        messageId: row.messageId,
        body: row.body,
        createdAt: now,
        attempts: 0,
      })),
      stale: [],
    };
  }

  insertOutbox(manager: EntityManager, rows: { messageId: string; body: string }[]): Promise<OutboxRecord[]> {
    return this.outbox.insert(manager, rows);
  }

  markSent(ids: string[]): Promise<void> {
    return this.outbox.markSent(ids);
  }

  markFailed(ids: string[], error: string): Promise<void> {
    return this.outbox.markFailed(ids, error);
  }

  claimUnsent(olderThan: number, limit: number, leaseMs: number): Promise<OutboxRecord[]> {
    return this.outbox.claimUnsent(olderThan, limit, leaseMs);
  }

  /**
   * Deletes, in batches of `purgeBatchSize` (one short transaction each, so other writers are not held up):
   * sent outbox rows sent before `sentOutboxBefore`, inbox rows processed before `inboxBefore`, and — when
   * `finishedSagasBefore` is given — terminal sagas last updated before it, with their history.
   * Returns the number of rows deleted from all tables.
   */
  async purge(options: {
    sentOutboxBefore: number;
    inboxBefore: number;
    finishedSagasBefore?: number;
  }): Promise<number> {
    const batch = this.purgeBatchSize;
    const { finishedSagasBefore } = options;
    const autocommit = (fn: (m: EntityManager) => Promise<number>) => this.transactions.autocommit(fn);
    let total = 0;
    total += await this.inBatches(() =>
      autocommit((m) => this.outbox.purgeSent(m, options.sentOutboxBefore, batch)),
    );
    total += await this.inBatches(() => autocommit((m) => this.purgeInbox(m, options.inboxBefore, batch)));
    if (finishedSagasBefore !== undefined) {
      total += await this.inBatches(() =>
        this.transactions.run((m) => this.purgeFinishedSagas(m, finishedSagasBefore, batch)),
      );
    }
    return total;
  }

  /** Repeats `deleteBatch` until it finds less than a full batch; returns the rows deleted in all. */
  private async inBatches(
    deleteBatch: () => Promise<number | { matched: number; deleted: number }>,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await deleteBatch();
      const { matched, deleted } = typeof result === 'number' ? { matched: result, deleted: result } : result;
      total += deleted;
      if (matched < this.purgeBatchSize) return total;
    }
  }

  private async purgeInbox(manager: EntityManager, before: number, limit: number): Promise<number> {
    const sql =
      this.sql.family === 'mysql'
        ? 'DELETE FROM {inbox} WHERE processed_at < ? LIMIT ?'
        : 'DELETE FROM {inbox} WHERE (consumer, message_id) IN ' +
          '(SELECT consumer, message_id FROM {inbox} WHERE processed_at < ? LIMIT ?)';
    return (await execute(manager, this.sql.compile(sql), [before, limit])).affected;
  }

  /** Deletes one batch of finished sagas with their history. */
  private async purgeFinishedSagas(
    manager: EntityManager,
    before: number,
    limit: number,
  ): Promise<{ matched: number; deleted: number }> {
    const select =
      `SELECT id FROM {instance} WHERE status IN (${list(TERMINAL_STATUSES.length)}) ` +
      'AND updated_at < ? LIMIT ?';
    const { rows } = await execute(manager, this.sql.compile(select), [...TERMINAL_STATUSES, before, limit]);
    if (rows.length === 0) return { matched: 0, deleted: 0 };
    const ids = rows.map((row) => str(row.id));
    const inList = `(${list(ids.length)})`;
    const log = await execute(
      manager,
      this.sql.compile(`DELETE FROM {stepLog} WHERE saga_id IN ${inList}`),
      ids,
    );
    const instances = await execute(
      manager,
      this.sql.compile(`DELETE FROM {instance} WHERE id IN ${inList}`),
      ids,
    );
    return { matched: rows.length, deleted: log.affected + instances.affected };
  }
}
