import { Logger } from '@nestjs/common';
import type { SagaMessage } from '../message';
import type {
  BatchHandler,
  ConsumerSpec,
  Disposition,
  IncomingMessage,
  OutgoingMessage,
  SagaTransport,
} from '../transport';

interface Queue {
  handler?: BatchHandler;
  ready: IncomingMessage[];
  running: boolean;
}

/**
 * Moves messages between the coordinator and the participants of one process (a monolith, a test).
 * Delivery is asynchronous and batched like a broker's; `retry` redelivers after a short delay and
 * `reject` keeps the message in `deadLetters`. Nothing survives the process: the outbox covers that.
 */
export class InProcessTransport implements SagaTransport {
  readonly name = 'in-process';
  /** Messages a handler rejected, with the reason (the in-process dead-letter queue). */
  readonly deadLetters: { message: SagaMessage; reason: string }[] = [];
  private readonly logger = new Logger(InProcessTransport.name);
  private readonly queues = new Map<string, Queue>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: { batchSize?: number; retryDelayMs?: number } = {}) {}

  async connect(_spec: ConsumerSpec): Promise<void> {
    this.closed = false;
  }

  async publish(messages: OutgoingMessage[]): Promise<void> {
    for (const { message, body } of messages) {
      // Parse the body as a broker consumer would: handlers never share objects with the sender.
      this.deliver(queueName(message), { message: JSON.parse(body) as SagaMessage, redelivered: false });
    }
  }

  async consume(
    target: { commandsFor: string } | { repliesFor: string },
    handler: BatchHandler,
  ): Promise<void> {
    const name = 'commandsFor' in target ? `commands:${target.commandsFor}` : `replies:${target.repliesFor}`;
    const queue = this.queue(name);
    queue.handler = handler;
    this.drain(queue);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private deliver(name: string, incoming: IncomingMessage): void {
    const queue = this.queue(name);
    queue.ready.push(incoming);
    this.drain(queue);
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) this.queues.set(name, (queue = { ready: [], running: false }));
    return queue;
  }

  /** Hands the queued messages to the handler, one batch at a time, on the next turn of the event loop. */
  private drain(queue: Queue): void {
    if (queue.running || !queue.handler || queue.ready.length === 0 || this.closed) return;
    queue.running = true;
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.runBatch(queue))
      .finally(() => {
        queue.running = false;
        this.inFlight.delete(run);
        this.drain(queue);
      });
    this.inFlight.add(run);
  }

  private async runBatch(queue: Queue): Promise<void> {
    const batch = queue.ready.splice(0, this.options.batchSize ?? 64);
    let dispositions: Disposition[];
    try {
      dispositions = await queue.handler!(batch);
    } catch (error) {
      this.logger.warn(`Handler failed for a batch of ${batch.length}; redelivering: ${String(error)}`);
      dispositions = batch.map(() => ({ kind: 'retry' }));
    }
    batch.forEach((incoming, i) => {
      const disposition = dispositions[i] ?? { kind: 'retry' };
      if (disposition.kind === 'retry') this.redeliverLater(queue, incoming);
      if (disposition.kind === 'reject') {
        this.deadLetters.push({ message: incoming.message, reason: disposition.reason });
        this.logger.warn(`Message ${incoming.message.messageId} dead-lettered: ${disposition.reason}`);
      }
    });
  }

  private redeliverLater(queue: Queue, incoming: IncomingMessage): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      queue.ready.push({ ...incoming, redelivered: true });
      this.drain(queue);
    }, this.options.retryDelayMs ?? 50);
    this.timers.add(timer);
  }
}

function queueName(message: SagaMessage): string {
  return message.kind === 'command' ? `commands:${message.destination}` : `replies:${message.destination}`;
}
