import type { EntityManager } from 'typeorm';
import type { OutboxRecord } from '../saga-store';
import { chunks, execute, list, num, str, values, type Row, type SagaSql } from './saga-sql';
import type { SagaTransactions } from './transactions';

/** Rows per multi-row statement: far below every driver's limit on bound parameters. */
const CHUNK = 500;
const OUTBOX_COLUMNS = 'id, message_id, body, created_at, attempts';

/** The outbox half of `TypeOrmSagaStore`. */
export class TypeOrmOutbox {
  constructor(
    private readonly sql: SagaSql,
    private readonly transactions: SagaTransactions,
  ) {}

  async insert(manager: EntityManager, rows: { messageId: string; body: string }[]): Promise<OutboxRecord[]> {
    const createdAt = Date.now();
    const ids = new Map<string, string>();
    for (const chunk of chunks(rows, CHUNK)) {
      const params = chunk.flatMap((row) => [row.messageId, row.body, createdAt]);
      const insert = `INSERT INTO {outbox} (message_id, body, created_at) VALUES ${values(chunk.length, 3)}`;
      let inserted: Row[];
      if (this.sql.family === 'mysql') {
        // No RETURNING on MySQL: read the ids back by the unique message id.
        await execute(manager, this.sql.compile(insert), params);
        const messageIds = chunk.map((row) => row.messageId);
        const select = `SELECT id, message_id FROM {outbox} WHERE message_id IN (${list(chunk.length)})`;
        inserted = (await execute(manager, this.sql.compile(select), messageIds)).rows;
      } else {
        inserted = (await execute(manager, this.sql.compile(`${insert} RETURNING id, message_id`), params))
          .rows;
      }
      for (const row of inserted) ids.set(str(row.message_id), str(row.id));
    }
    return rows.map((row) => ({
      id: ids.get(row.messageId)!,
      messageId: row.messageId,
      body: row.body,
      createdAt,
      attempts: 0,
    }));
  }

  async claimUnsent(olderThan: number, limit: number, leaseMs: number): Promise<OutboxRecord[]> {
    const now = Date.now();
    const claimable =
      `SELECT id FROM {outbox} WHERE sent_at IS NULL AND created_at < ? ` +
      `AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?`;
    let rows: Row[];
    if (this.sql.family === 'mysql') {
      rows = await this.transactions.run(async (manager) => {
        const select = claimable.replace('SELECT id', `SELECT ${OUTBOX_COLUMNS}`) + ' FOR UPDATE SKIP LOCKED';
        const found = (await execute(manager, this.sql.compile(select), [olderThan, now, limit])).rows;
        if (found.length > 0) {
          const update = `UPDATE {outbox} SET claimed_until = ? WHERE id IN (${list(found.length)})`;
          await execute(manager, this.sql.compile(update), [now + leaseMs, ...found.map((row) => row.id)]);
        }
        return found;
      });
    } else {
      // One statement. PostgreSQL: SKIP LOCKED lets concurrent relays claim disjoint rows. SQLite: one writer.
      const lock = this.sql.family === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
      const update =
        `UPDATE {outbox} SET claimed_until = ? WHERE id IN (${claimable}${lock}) ` +
        `RETURNING ${OUTBOX_COLUMNS}`;
      rows = await this.transactions.autocommit(
        async (manager) =>
          (await execute(manager, this.sql.compile(update), [now + leaseMs, olderThan, now, limit])).rows,
      );
    }
    return rows
      .map((row) => ({
        id: str(row.id),
        messageId: str(row.message_id),
        body: str(row.body),
        createdAt: num(row.created_at),
        attempts: num(row.attempts),
      }))
      .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  async markSent(ids: string[]): Promise<void> {
    const sentAt = Date.now();
    if (this.sql.family === 'postgres' && ids.length > 0 && ids.every((id) => /^\d{1,19}$/.test(id))) {
      // Without waiting for the WAL flush: a mark lost in a crash only means the row is published again, which
      // consumers' inboxes absorb — and a flush per mark competed with the commits on sagas' critical path. One
      // round trip: SET LOCAL and the UPDATE as one simple query (one implicit transaction), numbers inlined.
      const update =
        `SET LOCAL synchronous_commit TO off; UPDATE {outbox} SET sent_at = ${sentAt}, claimed_until = NULL ` +
        `WHERE id IN (${ids.join(', ')}) AND sent_at IS NULL`;
      await this.transactions.autocommit((manager) => manager.query(this.sql.tablesIn(update)));
      return;
    }
    await this.updateEach(ids, 'sent_at = ?, claimed_until = NULL', [sentAt]);
  }

  async markFailed(ids: string[], error: string): Promise<void> {
    await this.updateEach(ids, 'attempts = attempts + 1, last_error = ?, claimed_until = NULL', [error]);
  }

  /** One UPDATE per chunk of ids (one in practice: a relay batch is smaller than a chunk). */
  private async updateEach(ids: string[], set: string, params: unknown[]): Promise<void> {
    if (ids.length === 0) return;
    await this.transactions.autocommit(async (manager) => {
      for (const chunk of chunks(ids, CHUNK)) {
        const update = `UPDATE {outbox} SET ${set} WHERE id IN (${list(chunk.length)}) AND sent_at IS NULL`;
        await execute(manager, this.sql.compile(update), [...params, ...this.sql.ids(chunk)]);
      }
    });
  }

  /** Deletes up to `limit` sent rows older than `before`; returns how many. */
  async purgeSent(manager: EntityManager, before: number, limit: number): Promise<number> {
    const sql =
      this.sql.family === 'mysql'
        ? 'DELETE FROM {outbox} WHERE sent_at < ? ORDER BY sent_at LIMIT ?'
        : 'DELETE FROM {outbox} WHERE id IN (SELECT id FROM {outbox} WHERE sent_at < ? ORDER BY sent_at LIMIT ?)';
    return (await execute(manager, this.sql.compile(sql), [before, limit])).affected;
  }
}
