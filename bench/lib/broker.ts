import { connect, type Channel } from 'amqplib';

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

async function withChannel<T>(url: string, fn: (channel: Channel) => Promise<T>): Promise<T> {
  const connection = await connect(url, { noDelay: true });
  try {
    const channel = await connection.createChannel();
    const result = await fn(channel);
    await channel.close();
    return result;
  } finally {
    await connection.close();
  }
}

/** Declares the durable queues and empties them, so that a run starts from nothing. */
export async function purgeQueues(url: string, queues: string[]): Promise<void> {
  await withChannel(url, async (channel) => {
    for (const q of queues) {
      await channel.assertQueue(q, { durable: true });
      await channel.purgeQueue(q);
    }
  });
}

/** Deletes the queues (missing ones are fine), so that none is left behind in the broker. */
export async function deleteQueues(url: string, queues: string[]): Promise<void> {
  await withChannel(url, async (channel) => {
    for (const q of queues) await channel.deleteQueue(q);
  });
}

/** Deletes the exchanges (missing ones are fine). */
export async function deleteExchanges(url: string, exchanges: string[]): Promise<void> {
  await withChannel(url, async (channel) => {
    for (const e of exchanges) await channel.deleteExchange(e);
  });
}
