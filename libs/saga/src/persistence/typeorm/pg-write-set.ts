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

/** Starts the error message of a write set that found a stale saga (followed by the stale ids, comma-separated). */
export const STALE_MARKER = 'saga-version-conflict:';

/** The stale saga ids named by a write set's error, or undefined for another error. */
export function staleIds(error: unknown): string[] | undefined {
  const message = error instanceof Error ? error.message : undefined;
  const at = message?.indexOf(STALE_MARKER) ?? -1;
  if (at < 0) return undefined;
  const ids = /^[^"]*/.exec(message!.slice(at + STALE_MARKER.length))![0];
  return ids.split(',').filter((id) => id.length > 0);
}

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
 * messages the batch holds). The statement returns one row per outbox row (`k = 'o'`, `a` = the row id, `b` = the
 * message id). A stale instance (its version changed) makes the statement
 * fail, with `STALE_MARKER` and the stale ids in the message (see `staleIds`): nothing of it is written, and the
 * transaction is aborted.
 * Written with `?` placeholders and `{table}` names (see `SagaSql`).
 */
export function pgWriteSet(set: SagaWriteSet, now: number): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  for (const r of set.inserted) {
    params.push(r.id, r.type, ...instanceValues(r), r.idempotencyKey, r.createdAt);
  }
  for (const { record, expectedVersion } of set.updated) {
    params.push(record.id, expectedVersion, ...instanceValues(record));
  }
  for (const e of set.log) {
    const detail = e.detail ? JSON.stringify(e.detail) : null;
    params.push(e.sagaId, e.step, e.phase, e.attempt, e.outcome, detail, e.at);
  }
  for (const row of set.outbox) params.push(row.messageId, row.body, now);
  const shape = [set.inserted.length, set.updated.length, set.log.length, set.outbox.length] as const;
  return { sql: writeSetSql(...shape), params };
}

/** The statement text by shape (row counts), built once: the same string each time is also cheap to look up. */
const writeSetTexts = new Map<string, string>();

function writeSetSql(inserted: number, updated: number, log: number, outbox: number): string {
  const key = `${inserted}/${updated}/${log}/${outbox}`;
  let sql = writeSetTexts.get(key);
  if (sql !== undefined) return sql;
  const ctes: string[] = [];
  const selects: string[] = [];
  if (inserted > 0) {
    const rows = values(inserted, INSTANCE_COLUMNS.length + 4);
    ctes.push(`i AS (INSERT INTO {instance} (${ALL_INSTANCE_COLUMNS}) VALUES ${rows})`);
  }
  if (updated > 0) {
    const rows = Array.from({ length: updated }, () => UPDATE_ROW).join(', ');
    ctes.push(
      `v(id, expected, ${INSTANCE_COLUMNS.join(', ')}) AS (VALUES ${rows})`,
      `u AS (UPDATE {instance} AS s SET ${UPDATE_SET} FROM v WHERE s.id = v.id AND s.version = v.expected RETURNING s.id)`,
    );
    // A stale saga fails the statement (so a COMMIT sent along with it turns into a ROLLBACK): the cast of a text
    // that is not a number raises, with the stale ids in its message. Not constant, so only evaluated for the row
    // that the WHERE keeps, i.e. only when an update did not apply.
    selects.push(
      `SELECT 'x' AS k, CAST((SELECT '${STALE_MARKER}' || string_agg(v.id, ',') FROM v ` +
        'WHERE v.id NOT IN (SELECT id FROM u)) AS int)::text AS a, NULL::text AS b ' +
        `WHERE (SELECT count(*) FROM u) < ${updated}`,
    );
  }
  if (log > 0) {
    ctes.push(
      `l AS (INSERT INTO {stepLog} (saga_id, step, phase, attempt, outcome, detail, at) VALUES ${values(log, 7)})`,
    );
  }
  if (outbox > 0) {
    ctes.push(
      `o AS (INSERT INTO {outbox} (message_id, body, created_at) VALUES ${values(outbox, 3)} ` +
        'RETURNING id, message_id)',
    );
    selects.push(`SELECT 'o' AS k, id::text AS a, message_id::text AS b FROM o`);
  }
  const select = selects.length > 0 ? selects.join(' UNION ALL ') : "SELECT '-' AS k WHERE false";
  sql = `WITH ${ctes.join(', ')} ${select}`;
  if (writeSetTexts.size >= 2000) writeSetTexts.clear();
  writeSetTexts.set(key, sql);
  return sql;
}

/**
 * Records inbox rows and reads saga instances in ONE statement: a row per instance found (`recorded` null), then one
 * row of nulls but `recorded`: the JSON array of the message ids this statement inserted (those not recorded before;
 * null when none was). JSON, and once: `pg` parses it natively, where a SQL array repeated on every row was parsed
 * character by character in JavaScript (~6 % of the order service's time at 64 sagas in flight).
 */
export function pgRecordInboxAndFind(
  consumer: string,
  messageIds: readonly string[],
  sagaIds: readonly string[],
  now: number,
): { sql: string; params: unknown[] } {
  const columns = ALL_INSTANCE_COLUMNS.split(', ');
  const sql =
    `WITH b AS (INSERT INTO {inbox} (consumer, message_id, processed_at) VALUES ${values(messageIds.length, 3)} ` +
    'ON CONFLICT DO NOTHING RETURNING message_id) ' +
    `SELECT NULL::json AS recorded, ${ALL_INSTANCE_COLUMNS} FROM {instance} WHERE id IN (${list(sagaIds.length)}) ` +
    `UNION ALL SELECT (SELECT json_agg(message_id) FROM b), ${columns.map(() => 'NULL').join(', ')}`;
  return { sql, params: [...messageIds.flatMap((id) => [consumer, id, now]), ...sagaIds] };
}
