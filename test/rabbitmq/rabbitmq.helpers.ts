import { Logger } from '@nestjs/common';
import { connect, type Channel, type ChannelModel, type GetMessage, type Options } from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { SagaMessage } from '../../libs/saga/src/transport/message';
import type { IncomingMessage, OutgoingMessage } from '../../libs/saga/src/transport/transport';

export const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A per-file name prefix, so that spec files never share queues. */
export function uniquePrefix(): string {
  return `test-rmq-${randomUUID().slice(0, 8)}`;
}

export function command(destination: string, overrides: Partial<SagaMessage> = {}): SagaMessage {
  return envelope({ kind: 'command', destination, replyTo: 'order', ...overrides });
}

export function reply(destination: string, overrides: Partial<SagaMessage> = {}): SagaMessage {
  return envelope({ kind: 'reply', destination, outcome: 'success', ...overrides });
}

function envelope(fields: Partial<SagaMessage>): SagaMessage {
  return {
    messageId: randomUUID(),
    kind: 'command',
    type: 'ChargePayment',
    sagaId: randomUUID(),
    sagaType: 'place-order',
    step: 'charge',
    phase: 'invoke',
    attempt: 1,
    destination: 'payment',
    payload: { amount: 42 },
    sentAt: new Date().toISOString(),
    ...fields,
  };
}

/** As the outbox hands messages over: the envelope and its JSON text. */
export function outgoing(message: SagaMessage): OutgoingMessage {
  return { message, body: JSON.stringify(message) };
}

/**
 * A plain amqplib connection, beside the transport under test: it reads queues and publishes raw bytes.
 * `open` throws (never skips) when the broker is unreachable.
 */
export class RawBroker {
  private constructor(
    private readonly connection: ChannelModel,
    readonly channel: Channel,
  ) {}

  static async open(): Promise<RawBroker> {
    let connection: ChannelModel;
    try {
      connection = await connect(AMQP_URL);
    } catch (error) {
      throw new Error(
        `RabbitMQ is not reachable at ${AMQP_URL} (${String(error)}). Start it: see README "Tests".`,
        { cause: error },
      );
    }
    const channel = await connection.createChannel();
    channel.on('error', () => undefined); // a failed operation rejects its own promise; the event adds nothing
    return new RawBroker(connection, channel);
  }

  async messageCount(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  publish(
    exchange: string,
    routingKey: string,
    content: string | Buffer,
    options: Options.Publish = {},
  ): void {
    this.channel.publish(exchange, routingKey, Buffer.from(content), options);
  }

  /** Reads (and acks) `count` messages from `queue`, waiting for them up to `timeoutMs`. */
  async take(queue: string, count: number, timeoutMs = 10_000): Promise<GetMessage[]> {
    const taken: GetMessage[] = [];
    await eventually(async () => {
      for (let msg = await this.channel.get(queue); msg; msg = await this.channel.get(queue)) {
        this.channel.ack(msg);
        taken.push(msg);
      }
      return taken.length >= count;
    }, timeoutMs);
    return taken;
  }

  /** Deletes every queue and exchange the transport declares for these participants and services. */
  async deleteTopology(prefix: string, participants: string[], services: string[]): Promise<void> {
    const queues = [
      ...participants.map((p) => `${prefix}.${p}.commands`),
      ...services.map((s) => `${prefix}.${s}.replies`),
    ];
    for (const queue of queues) {
      await this.channel.deleteQueue(queue);
      await this.channel.deleteQueue(`${queue}.dlq`);
    }
    for (const exchange of ['commands', 'replies', 'dlx'])
      await this.channel.deleteExchange(`${prefix}.${exchange}`);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** Polls `check` until it returns true; fails with a clear message after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Records what a handler received, batch by batch, and acks everything. */
export class Recorder {
  readonly batches: IncomingMessage[][] = [];

  readonly handler = async (batch: IncomingMessage[]) => {
    this.batches.push(batch);
    return batch.map(() => ({ kind: 'ack' as const }));
  };

  get messages(): IncomingMessage[] {
    return this.batches.flat();
  }
}

/** Keeps the transport's log lines out of the test output; the returned spies record them. */
export function captureLogs() {
  return {
    log: jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined),
    warn: jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined),
    error: jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined),
  };
}
