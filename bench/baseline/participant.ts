import type { Pool, PoolClient } from 'pg';
import { serveControl } from '../lib/control';
import { forcePgStatsFlush } from '../lib/pg-stats';
import { Broker, Db, log, newCounters, QUEUES, settingsFromEnv, type Envelope } from './common';
import { uuidv7 } from '../../libs/saga/src/runtime/ids';

export interface ParticipantSpec {
  database: string;
  /** The queue of commands this participant consumes. */
  queue: string;
  /** CREATE TABLE for the business table(s) (the dedup table is added here). */
  schema: string[];
  /** Business tables, dropped and created again at start. */
  tables: string[];
  /** Reference data the business write needs, written once at start (after `schema`). */
  seed?(pool: Pool): Promise<void>;
  /** Builds the reply (ids generated in code) before the transaction, so it can be stored with the dedup row. */
  reply(command: Envelope): Envelope;
  /** The business write, inside the transaction that recorded the dedup row. */
  apply(client: PoolClient, command: Envelope, reply: Envelope): Promise<void>;
}

/**
 * For each command, one transaction: the dedup row (message id, with the reply it produced) and the business
 * write; after COMMIT the reply is published (confirmed) and then the command is acked. A redelivered command
 * finds its dedup row: nothing is written again and the stored reply is published again (in case the first
 * attempt stopped between commit and publish), then it is acked.
 */
export async function runParticipant(spec: ParticipantSpec): Promise<void> {
  const settings = settingsFromEnv();
  const counters = newCounters();
  const schema = [
    `DROP TABLE IF EXISTS processed_message, ${spec.tables.join(', ')}`,
    ...spec.schema,
    `CREATE TABLE processed_message (
       message_id uuid PRIMARY KEY, reply jsonb NOT NULL, processed_at timestamptz NOT NULL DEFAULT now())`,
  ];
  const db = await Db.open(spec.database, settings.poolMax, schema, counters);
  await spec.seed?.(db.pool);
  const broker = await Broker.open(
    settings.amqpUrl,
    settings.prefetch,
    [spec.queue, QUEUES.replies],
    counters,
  );

  await broker.consume(spec.queue, async (command) => {
    const fresh = spec.reply(command);
    const reply = await db.tx(async (client) => {
      const inserted = await client.query(
        'INSERT INTO processed_message (message_id, reply) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING',
        [command.messageId, fresh],
      );
      if (inserted.rowCount === 1) {
        await spec.apply(client, command, fresh);
        return fresh;
      }
      const { rows } = await client.query<{ reply: Envelope }>(
        'SELECT reply FROM processed_message WHERE message_id = $1',
        [command.messageId],
      );
      log(`duplicate ${command.type} ${command.messageId}: replying again`);
      return rows[0].reply;
    });
    await broker.publish(QUEUES.replies, reply);
  });

  serveControl({
    stats: async () => ({ ...counters, pgStatsFlushed: await forcePgStatsFlush(db.pool) }),
    shutdown: async () => {
      await broker.close();
      await db.pool.end();
      return counters;
    },
  });
}

/** A reply envelope for `command` with a new message id. */
export function replyTo<P extends Record<string, unknown>>(
  command: Envelope,
  type: string,
  payload: P,
): Envelope {
  return { messageId: uuidv7(), sagaId: command.sagaId, type, payload };
}
