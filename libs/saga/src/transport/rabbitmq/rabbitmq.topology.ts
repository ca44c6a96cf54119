import type { Channel } from 'amqplib';
import type { MessageKind } from '../message';
import type { ResolvedRabbitMqOptions } from './rabbitmq.options';

/** One work queue: where messages of one kind for one destination are routed and consumed. */
export interface WorkQueue {
  /** The queue's name, e.g. `saga.payment.commands`. */
  name: string;
  /** What the queue holds: a message of the other kind in it is dead-lettered. */
  kind: MessageKind;
  /** The exchange it is bound to (commands or replies). */
  exchange: string;
  /** The binding key: the participant or service name (the message's `destination`). */
  routingKey: string;
  /** Its dead-letter queue, bound to the dead-letter exchange with the work queue's name as key. */
  deadLetterQueue: string;
}

/** Header set on a dead-lettered message: why it was rejected. */
export const REJECT_REASON_HEADER = 'x-saga-reject-reason';
/** Header set on a dead-lettered message: the queue it was rejected from. */
export const ORIGINAL_QUEUE_HEADER = 'x-saga-original-queue';

/** Derives names from the options; pure, no I/O. */
export class RabbitMqTopology {
  constructor(private readonly options: ResolvedRabbitMqOptions) {}

  /** The queue a message of `kind` addressed to `destination` lands in. */
  queueFor(kind: MessageKind, destination: string): WorkQueue {
    const n = this.options.names;
    const name = kind === 'command' ? n.commandQueue(destination) : n.replyQueue(destination);
    return {
      name,
      kind,
      exchange: this.exchangeFor(kind),
      routingKey: destination,
      deadLetterQueue: n.deadLetterQueue(name),
    };
  }

  exchangeFor(kind: MessageKind): string {
    const n = this.options.names;
    return kind === 'command' ? n.commandsExchange : n.repliesExchange;
  }

  get deadLetterExchange(): string {
    return this.options.names.deadLetterExchange;
  }

  /** Declares the three exchanges. Idempotent, as every declaration here: run again after each reconnect. */
  async declareExchanges(channel: Channel): Promise<void> {
    const n = this.options.names;
    for (const exchange of [n.commandsExchange, n.repliesExchange, n.deadLetterExchange]) {
      await channel.assertExchange(exchange, 'direct', { durable: true });
    }
  }

  /**
   * Declares a work queue, its binding and its dead-letter queue. Both the broker (a plain `nack` without requeue,
   * or a quorum queue's delivery limit) and the transport (which adds a reason header) dead-letter a message to the
   * dead-letter exchange with the work queue's name as routing key, so both land in the same DLQ.
   */
  async declareQueue(channel: Channel, queue: WorkQueue): Promise<void> {
    await this.declareExchanges(channel);
    await channel.assertQueue(queue.deadLetterQueue, { durable: true, arguments: this.queueTypeArguments() });
    await channel.bindQueue(queue.deadLetterQueue, this.deadLetterExchange, queue.name);
    await channel.assertQueue(queue.name, {
      durable: true,
      arguments: {
        ...this.queueTypeArguments(),
        'x-dead-letter-exchange': this.deadLetterExchange,
        'x-dead-letter-routing-key': queue.name,
      },
    });
    await channel.bindQueue(queue.name, queue.exchange, queue.routingKey);
  }

  /** Classic queues get no argument, so that queues declared before this option existed still match. */
  private queueTypeArguments(): Record<string, string> {
    return this.options.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
  }
}
