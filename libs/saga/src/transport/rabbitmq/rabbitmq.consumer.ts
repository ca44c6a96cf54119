import type { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { BatchHandler, Disposition, IncomingMessage } from '../transport';
import {
  deadLetterOptions,
  errorMessage,
  messageIdOf,
  parseEnvelope,
  type Outgoing,
} from './rabbitmq.messages';
import type { RabbitMqTopology, WorkQueue } from './rabbitmq.topology';

/** What a consumer needs from the transport that owns it. */
export interface ConsumerContext {
  logger: Logger;
  topology: RabbitMqTopology;
  prefetch: number;
  /** Batches handled at once. */
  concurrency: number;
  retryDelayMs: number;
  reconnectDelayMs: number;
  /** Publishes one message with a publisher confirm; rejects if it cannot. */
  publishConfirmed(message: Outgoing): Promise<void>;
}

/**
 * The fewest waiting messages for which a batch starts beside one already running (`concurrency` > 1), unless
 * `prefetch / concurrency` is smaller.
 */
const MIN_PARALLEL_BATCH = 8;

/** A delivery, remembered with the channel it came on: acks must go to that channel, never to its successor. */
interface Delivery {
  channel: Channel;
  msg: ConsumeMessage;
  incoming: IncomingMessage;
}

/**
 * Consumes one work queue: validates deliveries, groups the ones that arrive together into batches, runs one batch
 * at a time through the handler and applies its dispositions.
 */
export class QueueConsumer {
  private channel?: Channel;
  private consumerTag?: string;
  private stopped = false;
  private pending: Delivery[] = [];
  private flushScheduled = false;
  /** The batches being handled, oldest first. */
  private readonly running: { batch: Delivery[]; done: Promise<void> }[] = [];
  /** Dead-lettering of invalid deliveries, which happens outside batches. */
  private readonly deadLetters = new Set<Promise<void>>();
  private readonly retryTimers = new Map<NodeJS.Timeout, Delivery>();

  constructor(
    readonly queue: WorkQueue,
    private readonly handler: BatchHandler,
    private readonly ctx: ConsumerContext,
  ) {}

  /** Channel setup: runs on the first channel and again on every channel created after a reconnect. */
  readonly setup = async (channel: Channel): Promise<void> => {
    if (this.stopped) return;
    await this.ctx.topology.declareExchanges(channel);
    await this.ctx.topology.declareQueue(channel, this.queue);
    await channel.prefetch(this.ctx.prefetch, false);
    const { consumerTag } = await channel.consume(this.queue.name, (msg) => this.onDelivery(channel, msg), {
      noAck: false,
    });
    this.channel = channel;
    this.consumerTag = consumerTag;
    // Stopped while subscribing (close during a reconnect): undo it, the deliveries are requeued by `onDelivery`.
    if (this.stopped) await this.stop();
  };

  /** Cancels the subscription: no new deliveries; the ones in hand are still settled by `drain`. */
  async stop(): Promise<void> {
    this.stopped = true;
    const { channel, consumerTag } = this;
    this.consumerTag = undefined;
    if (!channel || !consumerTag) return;
    try {
      await channel.cancel(consumerTag);
    } catch {
      // The channel is already gone: the broker has requeued whatever was unacknowledged.
    }
  }

  /** After `stop`: requeues what has not started, and waits for the running batch and dead-lettering. */
  async drain(): Promise<void> {
    for (const d of this.pending.splice(0)) nack(d, true);
    for (const [timer, d] of this.retryTimers) {
      clearTimeout(timer);
      nack(d, true);
    }
    this.retryTimers.clear();
    await Promise.all([...this.running.map((r) => r.done), ...this.deadLetters]);
  }

  private onDelivery(channel: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      this.onCancelledByBroker(channel);
      return;
    }
    if (this.stopped) {
      nack({ channel, msg }, true);
      return;
    }
    const parsed = parseEnvelope(msg.content, this.queue.kind);
    if (!parsed.ok) {
      const task = this.deadLetter(channel, msg, parsed.reason);
      this.deadLetters.add(task);
      void task.finally(() => this.deadLetters.delete(task));
      return;
    }
    this.pending.push({
      channel,
      msg,
      incoming: { message: parsed.message, redelivered: msg.fields.redelivered },
    });
    if (this.pending.length >= this.ctx.prefetch) {
      this.flush();
    } else if (!this.flushScheduled) {
      // Deliveries read from the socket together are dispatched in one turn of the event loop: wait for the rest.
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const { concurrency, prefetch } = this.ctx;
    while (this.running.length < concurrency && this.pending.length > 0 && !this.stopped) {
      // Beside a running batch, another one starts only when enough messages wait for it: every batch is a
      // transaction, and many small ones cost more than they overlap. What waits is shared out evenly.
      const free = concurrency - this.running.length;
      const minBatch = Math.min(MIN_PARALLEL_BATCH, Math.ceil(prefetch / concurrency));
      const worth = Math.floor(this.pending.length / minBatch);
      if (this.running.length > 0 && worth === 0) break;
      const batches = Math.max(1, Math.min(free, worth));
      const batch = this.pending.splice(0, Math.min(prefetch, Math.ceil(this.pending.length / batches)));
      const entry = { batch, done: Promise.resolve() };
      entry.done = this.runBatch(batch)
        .catch((err: unknown) =>
          this.ctx.logger.error(`Batch from ${this.queue.name} failed: ${errorMessage(err)}`),
        )
        .finally(() => {
          this.running.splice(this.running.indexOf(entry), 1);
          // What arrived while the handlers ran forms the next batch.
          if (this.pending.length > 0) this.flush();
        });
      this.running.push(entry);
    }
  }

  /** Turns every outcome into acks, requeues or dead letters. */
  private async runBatch(batch: Delivery[]): Promise<void> {
    let dispositions: Disposition[];
    try {
      dispositions = await this.handler(batch.map((d) => d.incoming));
      if (!Array.isArray(dispositions) || dispositions.length !== batch.length) {
        throw new Error(
          `the handler returned ${describeLength(dispositions)} dispositions for ${batch.length} messages`,
        );
      }
    } catch (err) {
      this.ctx.logger.error(
        `Handler failed for a batch of ${batch.length} from ${this.queue.name}; requeueing it: ${errorMessage(err)}`,
      );
      for (const d of batch) this.retryLater(d);
      return;
    }
    if (this.canAckTogether(batch, dispositions)) {
      ackUpTo(batch[batch.length - 1]);
      return;
    }
    const deadLetters: Promise<void>[] = [];
    batch.forEach((d, i) => {
      // Anything but a well-formed ack or reject (a handler bug) is retried rather than lost.
      const disposition = dispositions[i] as Disposition | undefined;
      if (disposition?.kind === 'ack') ack(d);
      else if (disposition?.kind === 'reject') {
        const reason = String(disposition.reason || 'rejected by the handler');
        deadLetters.push(this.deadLetter(d.channel, d.msg, reason));
      } else this.retryLater(d);
    });
    await Promise.all(deadLetters);
  }

  /**
   * One `ack` frame with `multiple` for the whole batch (one socket write instead of one per message) is right only
   * when every message is acked and nothing older is still unsettled on the channel: no message waits for a retry
   * or for its dead-lettering, and no older batch is still being handled. Deliveries arrive in tag order.
   */
  private canAckTogether(batch: Delivery[], dispositions: Disposition[]): boolean {
    if (batch.length < 2 || this.retryTimers.size > 0 || this.deadLetters.size > 0) return false;
    if (this.running[0]?.batch !== batch) return false;
    const channel = batch[0].channel;
    return batch.every((d, i) => d.channel === channel && dispositions[i]?.kind === 'ack');
  }

  /** Requeues after `retryDelayMs`; meanwhile the message holds a prefetch slot, which slows a failing consumer. */
  private retryLater(d: Delivery): void {
    if (this.ctx.retryDelayMs <= 0 || this.stopped) {
      nack(d, true);
      return;
    }
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      nack(d, true);
    }, this.ctx.retryDelayMs);
    this.retryTimers.set(timer, d);
  }

  /**
   * Sends a message to the queue's DLQ with the reason in a header. A plain `nack` without requeue would dead-letter
   * it through the queue's `x-dead-letter-exchange`, but the broker then only records `x-death` (reason `rejected`),
   * never ours. So the transport publishes the copy itself, waits for its confirm and only then acks the original: a
   * crash in between leaves a duplicate in the DLQ, never a loss. If that publish fails, the `nack` fallback still
   * dead-letters the message, without the reason header.
   */
  private async deadLetter(channel: Channel, msg: ConsumeMessage, reason: string): Promise<void> {
    const queue = this.queue.name;
    this.ctx.logger.warn(`Dead-lettering message ${messageIdOf(msg)} from ${queue}: ${reason}`);
    try {
      await this.ctx.publishConfirmed({
        exchange: this.ctx.topology.deadLetterExchange,
        routingKey: queue,
        content: msg.content,
        options: deadLetterOptions(msg, queue, reason),
      });
    } catch (err) {
      this.ctx.logger.error(
        `Could not publish message ${messageIdOf(msg)} to the DLQ of ${queue} (${errorMessage(err)}); ` +
          `rejecting it to the broker's dead-letter exchange without the reason header.`,
      );
      nack({ channel, msg }, false);
      return;
    }
    ack({ channel, msg });
  }

  /** The broker cancelled the subscription (the queue was deleted, or its node failed): subscribe again. */
  private onCancelledByBroker(channel: Channel): void {
    if (this.stopped || this.channel !== channel) return;
    this.consumerTag = undefined;
    this.ctx.logger.warn(`RabbitMQ cancelled the consumer of ${this.queue.name}; subscribing again`);
    const timer = setTimeout(() => {
      if (this.stopped || this.channel !== channel || this.consumerTag) return;
      this.setup(channel).catch((err: unknown) => {
        // A closed channel is re-set up on reconnect; anything else is worth a line.
        this.ctx.logger.warn(`Could not resubscribe to ${this.queue.name}: ${errorMessage(err)}`);
      });
    }, this.ctx.reconnectDelayMs);
    timer.unref();
  }
}

// A closed channel throws on ack/nack. Nothing is lost: the broker requeued the message when the channel closed
// and will deliver it again (with `redelivered` set), so these are safe to ignore.
function ack(d: Pick<Delivery, 'channel' | 'msg'>): void {
  try {
    d.channel.ack(d.msg);
  } catch {
    /* channel closed: the message will be redelivered */
  }
}

/** Acks `d` and every earlier unacknowledged delivery of its channel. */
function ackUpTo(d: Pick<Delivery, 'channel' | 'msg'>): void {
  try {
    d.channel.ack(d.msg, true);
  } catch {
    /* channel closed: the messages will be redelivered */
  }
}

function nack(d: Pick<Delivery, 'channel' | 'msg'>, requeue: boolean): void {
  try {
    d.channel.nack(d.msg, false, requeue);
  } catch {
    /* channel closed: the message will be redelivered */
  }
}

function describeLength(value: unknown): string {
  return Array.isArray(value) ? String(value.length) : 'no array of';
}
