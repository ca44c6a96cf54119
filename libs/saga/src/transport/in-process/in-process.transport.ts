import { Logger } from '@nestjs/common';
import { TransportError } from '../../errors/saga.errors';
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
  ready: Pending[];
  running: boolean;
}

/** A message on its way: settled when a handler acknowledged or dead-lettered it. */
interface Pending {
  incoming: IncomingMessage;
  settle: () => void;
  fail: (error: Error) => void;
}

/**
 * Moves messages between the coordinator and the participants of one process (a monolith, a test).
 * Delivery is asynchronous and batched like a broker's; `retry` redelivers after a short delay and
 * `reject` keeps the message in `deadLetters`. Nothing is held only in memory: `publish` resolves when the
 * receivers have committed (acknowledged) the messages, so the outbox marks a row sent only then, and a crash
 * before that leaves it for the sweep. Publishing to a destination nobody consumes fails (the row stays unsent).
 */
export class InProcessTransport implements SagaTransport {
  readonly name = 'in-process';
  /** Messages a handler rejected, with the reason (the in-process dead-letter queue). */
  readonly deadLetters: { message: SagaMessage; reason: string }[] = [];
  private readonly logger = new Logger(InProcessTransport.name);
  private readonly queues = new Map<string, Queue>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Messages waiting to be redelivered, by their timer. */
  private readonly timers = new Map<NodeJS.Timeout, Pending>();
  private closed = false;

  constructor(private readonly options: { batchSize?: number; retryDelayMs?: number } = {}) {}

  async connect(_spec: ConsumerSpec): Promise<void> {
    this.closed = false;
  }

  async publish(messages: OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new TransportError('The in-process transport is closed.');
    const missing = messages
      .map((m) => queueName(m.message))
      .filter((name) => !this.queues.get(name)?.handler);
    if (missing.length > 0) {
      throw new TransportError(
        `No consumer for ${[...new Set(missing)].join(', ')} yet: the outbox keeps the messages.`,
      );
    }
    const settled = messages.map(
      ({ message, body }) =>
        new Promise<void>((settle, fail) => {
          // Parse the body as a broker consumer would: handlers never share objects with the sender.
          const incoming = { message: JSON.parse(body) as SagaMessage, redelivered: false };
          this.deliver(queueName(message), { incoming, settle, fail });
        }),
    );
    await Promise.all(settled);
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
    for (const timer of this.timers.keys()) clearTimeout(timer);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const abandoned = [
      ...this.timers.values(),
      ...[...this.queues.values()].flatMap((q) => q.ready.splice(0)),
    ];
    this.timers.clear();
    for (const pending of abandoned)
      pending.fail(new TransportError('The in-process transport closed first.'));
  }

  private deliver(name: string, pending: Pending): void {
    const queue = this.queue(name);
    queue.ready.push(pending);
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
      dispositions = await queue.handler!(batch.map((p) => p.incoming));
    } catch (error) {
      this.logger.warn(`Handler failed for a batch of ${batch.length}; redelivering: ${String(error)}`);
      dispositions = batch.map(() => ({ kind: 'retry' }));
    }
    batch.forEach((pending, i) => {
      const disposition = dispositions[i] ?? { kind: 'retry' };
      if (disposition.kind === 'retry') return this.redeliverLater(queue, pending);
      if (disposition.kind === 'reject') {
        const { message } = pending.incoming;
        this.deadLetters.push({ message, reason: disposition.reason });
        this.logger.warn(`Message ${message.messageId} dead-lettered: ${disposition.reason}`);
      }
      pending.settle();
    });
  }

  private redeliverLater(queue: Queue, pending: Pending): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      queue.ready.push({ ...pending, incoming: { ...pending.incoming, redelivered: true } });
      this.drain(queue);
    }, this.options.retryDelayMs ?? 50);
    this.timers.set(timer, pending);
  }
}

function queueName(message: SagaMessage): string {
  return message.kind === 'command' ? `commands:${message.destination}` : `replies:${message.destination}`;
}
