import type { SagaWriteSet } from '../saga-store';
import { INSTANCE_COLUMNS, ALL_INSTANCE_COLUMNS, instanceValues } from './instance-rows';
import { list, values } from './saga-sql';

/** PostgreSQL types of `INSTANCE_COLUMNS`, for the VALUES list an UPDATE … FROM joins (its parameters are untyped). */
const INSTANCE_COLUMN_TYPES: Record<(typeof INSTANCE_COLUMNS)[number], string> = {
  definition_version: 'int',
  status: 'varchar',
  current_step: 'varchar',
  step_index: 'int',
  phase: 'varchar',
  attempt: 'int',
  awaiting: 'boolean',
  in_doubt: 'boolean',
  wake_at: 'bigint',
  deadline_at: 'bigint',
  due_at: 'bigint',
  data: 'text',
  last_error: 'text',
  version: 'int',
  updated_at: 'bigint',
};

/** Bound parameters one statement may carry (PostgreSQL's limit is 65535): a larger set is written in parts. */
export const PG_WRITE_SET_MAX_PARAMS = 30_000;

const UPDATE_ROW = `(?::varchar, ?::int, ${INSTANCE_COLUMNS.map((c) => `?::${INSTANCE_COLUMN_TYPES[c]}`).join(', ')})`;
const UPDATE_SET = INSTANCE_COLUMNS.map((c) => `${c} = v.${c}`).join(', ');

/** Parameters `pgWriteSet` binds for `set`. */
export function pgWriteSetParams(set: SagaWriteSet): number {
  return (
    set.inserted.length * (INSTANCE_COLUMNS.length + 4) +
    set.updated.length * (INSTANCE_COLUMNS.length + 2) +
    set.log.length * 7 +
    set.outbox.length * 3
  );
}

/**
 * All the writes of a set as ONE statement of data-modifying CTEs (a single round trip, however many sagas and
 * messages the batch holds). The statement returns one row per saved instance (`k = 'u'`, `a` = its id) and per
 * outbox row (`'o'`, the row id, `b` = the message id); a stale instance is the absence of its row.
 * Written with `?` placeholders and `{table}` names (see `SagaSql`).
 */
export function pgWriteSet(set: SagaWriteSet, now: number): { sql: string; params: unknown[] } {
  const ctes: string[] = [];
  const selects: string[] = [];
  const params: unknown[] = [];
  if (set.inserted.length > 0) {
    ctes.push(
      `i AS (INSERT INTO {instance} (${ALL_INSTANCE_COLUMNS}) VALUES ${values(set.inserted.length, INSTANCE_COLUMNS.length + 4)})`,
    );
    for (const r of set.inserted)
      params.push(r.id, r.type, ...instanceValues(r), r.idempotencyKey, r.createdAt);
  }
  if (set.updated.length > 0) {
    const rows = Array.from({ length: set.updated.length }, () => UPDATE_ROW).join(', ');
    ctes.push(
      `u AS (UPDATE {instance} AS s SET ${UPDATE_SET} FROM (VALUES ${rows}) ` +
        `AS v(id, expected, ${INSTANCE_COLUMNS.join(', ')}) WHERE s.id = v.id AND s.version = v.expected RETURNING s.id)`,
    );
    selects.push(`SELECT 'u' AS k, id::text AS a, NULL::text AS b FROM u`);
    for (const { record, expectedVersion } of set.updated) {
      params.push(record.id, expectedVersion, ...instanceValues(record));
    }
  }
  if (set.log.length > 0) {
    ctes.push(
      `l AS (INSERT INTO {stepLog} (saga_id, step, phase, attempt, outcome, detail, at) VALUES ${values(set.log.length, 7)})`,
    );
    for (const e of set.log) {
      params.push(
        e.sagaId,
        e.step,
        e.phase,
        e.attempt,
        e.outcome,
        e.detail ? JSON.stringify(e.detail) : null,
        e.at,
      );
    }
  }
  if (set.outbox.length > 0) {
    ctes.push(
      `o AS (INSERT INTO {outbox} (message_id, body, created_at) VALUES ${values(set.outbox.length, 3)} ` +
        'RETURNING id, message_id)',
    );
    selects.push(`SELECT 'o' AS k, id::text AS a, message_id::text AS b FROM o`);
    for (const row of set.outbox) params.push(row.messageId, row.body, now);
  }
  const select = selects.length > 0 ? selects.join(' UNION ALL ') : "SELECT '-' AS k WHERE false";
  return { sql: `WITH ${ctes.join(', ')} ${select}`, params };
}

/**
 * Records inbox rows and reads saga instances in ONE statement: every row is an instance (`*`) with `recorded`, the
 * array of message ids this statement inserted (those not recorded before); one row of nulls but `recorded` when
 * no instance matches.
 */
export function pgRecordInboxAndFind(
  consumer: string,
  messageIds: readonly string[],
  sagaIds: readonly string[],
  now: number,
): { sql: string; params: unknown[] } {
  const sql =
    `WITH b AS (INSERT INTO {inbox} (consumer, message_id, processed_at) VALUES ${values(messageIds.length, 3)} ` +
    'ON CONFLICT DO NOTHING RETURNING message_id) ' +
    `SELECT r.recorded, ${ALL_INSTANCE_COLUMNS.replace(/(^|, )/g, '$1s.')} ` +
    'FROM (SELECT array_agg(message_id::text) AS recorded FROM b) AS r ' +
    `LEFT JOIN {instance} AS s ON s.id IN (${list(sagaIds.length)})`;
  return { sql, params: [...messageIds.flatMap((id) => [consumer, id, now]), ...sagaIds] };
}
