/**
 * The hand-written baseline: what a competent developer writes with amqplib and pg directly, message by
 * message. One pg Pool and one AMQP connection per process (TCP_NODELAY on), a confirm channel reused for every
 * publish, one consumer channel with prefetch, persistent messages to durable queues, manual acks after commit.
 */
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { Pool, type PoolClient } from 'pg';
import type { ServiceCounters } from '../lib/control';
import { ensureDatabase, pgConfig } from '../lib/pg-stats';

export const QUEUES = {
  payment: 'bench.baseline.payment',
  shipping: 'bench.baseline.shipping',
  replies: 'bench.baseline.order.replies',
} as const;

export const DATABASES = {
  order: 'bench_baseline_order',
  payment: 'bench_baseline_payment',
  shipping: 'bench_baseline_shipping',
} as const;

/** Every message body: a JSON envelope. */
export interface Envelope<P = Record<string, unknown>> {
  messageId: string;
  sagaId: string;
  type: string;
  payload: P;
}

export function settingsFromEnv(): { amqpUrl: string; prefetch: number; poolMax: number } {
  return {
    amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    prefetch: Number(process.env.BENCH_PREFETCH ?? 64),
    poolMax: Number(process.env.BENCH_PG_POOL_MAX ?? 10),
  };
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A pg Pool whose transactions are counted; the database and its tables are created if missing and emptied. */
export class Db {
  constructor(
    readonly pool: Pool,
    private readonly counters: ServiceCounters,
  ) {}

  static async open(
    database: string,
    poolMax: number,
    schema: string[],
    counters: ServiceCounters,
  ): Promise<Db> {
    await ensureDatabase(database);
    const pool = new Pool({ ...pgConfig(database), max: poolMax });
    pool.on('error', (err) => log(`idle pg client error: ${err.message}`));
    for (const statement of schema) await pool.query(statement);
    return new Db(pool, counters);
  }

  /** BEGIN, `fn`, COMMIT (ROLLBACK if `fn` throws), on one pooled client. */
  async tx<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      this.counters.commits++;
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      this.counters.rollbacks++;
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

/** One connection, a confirm channel for publishing, a channel for consuming. */
export class Broker {
  private readonly inFlight = new Set<Promise<void>>();
  private consumerTag: string | undefined;

  private constructor(
    private readonly connection: ChannelModel,
    private readonly publisher: ConfirmChannel,
    private readonly consumer: Channel,
    private readonly counters: ServiceCounters,
  ) {}

  static async open(
    url: string,
    prefetch: number,
    queues: string[],
    counters: ServiceCounters,
  ): Promise<Broker> {
    const connection = await connect(url, { noDelay: true });
    connection.on('error', (err: Error) => log(`amqp connection error: ${err.message}`));
    const publisher = await connection.createConfirmChannel();
    const consumer = await connection.createChannel();
    for (const q of queues) await consumer.assertQueue(q, { durable: true });
    await consumer.prefetch(prefetch);
    return new Broker(connection, publisher, consumer, counters);
  }

  /** Publishes a persistent message to a queue and waits for the broker's confirm of this one message. */
  publish(queue: string, message: Envelope): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const body = Buffer.from(JSON.stringify(message));
      const options = {
        persistent: true,
        messageId: message.messageId,
        type: message.type,
        contentType: 'application/json',
      };
      this.publisher.sendToQueue(queue, body, options, (err: unknown) => {
        if (err)
          return reject(err instanceof Error ? err : new Error(`${queue}: message nacked by the broker`));
        this.counters.published++;
        resolve();
      });
    });
  }

  /**
   * Handles each delivery concurrently (up to prefetch) and acks it once `handler` has resolved (after its
   * commit and its publishes). A failure is logged and the message requeued after a second.
   */
  async consume(queue: string, handler: (message: Envelope) => Promise<void>): Promise<void> {
    const onMessage = (msg: ConsumeMessage | null): void => {
      if (!msg) return log(`consumer of ${queue} cancelled by the broker`);
      const work = this.handle(msg, handler).finally(() => this.inFlight.delete(work));
      this.inFlight.add(work);
    };
    this.consumerTag = (await this.consumer.consume(queue, onMessage, { noAck: false })).consumerTag;
  }

  private async handle(msg: ConsumeMessage, handler: (message: Envelope) => Promise<void>): Promise<void> {
    try {
      await handler(JSON.parse(msg.content.toString()) as Envelope);
      this.consumer.ack(msg);
      this.counters.consumed++;
    } catch (err) {
      log(
        `handling ${String(msg.properties.messageId)} failed: ${err instanceof Error ? err.stack : String(err)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      this.consumer.nack(msg, false, true);
    }
  }

  /** Stops consuming, waits for the messages being handled, closes the channels and the connection. */
  async close(): Promise<void> {
    if (this.consumerTag) await this.consumer.cancel(this.consumerTag);
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    await this.consumer.close();
    await this.publisher.close();
    await this.connection.close();
  }
}

export function newCounters(): ServiceCounters {
  return { published: 0, consumed: 0, commits: 0, rollbacks: 0 };
}
