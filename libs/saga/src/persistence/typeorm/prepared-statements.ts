import { createHash } from 'node:crypto';

/**
 * Statements with at most this many parameters are prepared by name on PostgreSQL: the fixed-shape ones and those
 * of a batch of one or two messages, whose planning is a large part of their cost (a write set of one saga: ~430 µs
 * unprepared, ~260 µs prepared, measured here). Larger batches, or a VALUES list per row, vary in shape too much to
 * be worth keeping, and their planning is shared by many rows.
 */
export const PREPARED_MAX_PARAMS = 64;

/**
 * Distinct statements prepared at most, per kind (the library's own; the repeated ones of steps and handlers): each
 * costs memory in every pooled backend that runs it, so statements beyond these run unprepared.
 */
export const PREPARED_MAX_STATEMENTS = 256;

/**
 * The name a statement is prepared under: named by content, so that anything sharing the pool gives the same
 * statement the same name (`pg` refuses one name for two texts on a connection). `saga` for the library's own
 * statements, `saga_q` for the repeated ones of steps and handlers.
 */
export function preparedStatementName(prefix: 'saga' | 'saga_q', text: string): string {
  return `${prefix}_${createHash('sha1').update(text).digest('hex').slice(0, 32)}`;
}
