import { Logger } from '@nestjs/common';
import type { Channel, ConfirmChannel } from 'amqplib';
import type { AmqpConnectionManager, ChannelWrapper, SetupFunc } from 'amqp-connection-manager';
import { MessageTooLargeError, TransportError } from '../../errors/saga.errors';
import type { BatchHandler, ConsumerSpec, OutgoingMessage, SagaTransport } from '../transport';
import { createConnection, redact, withTimeout } from './rabbitmq.connection';
import { QueueConsumer } from './rabbitmq.consumer';
import { errorMessage, publishOptionsFor, type Outgoing } from './rabbitmq.messages';
import {
  resolveRabbitMqOptions,
  type RabbitMqTransportOptions,
  type ResolvedRabbitMqOptions,
} from './rabbitmq.options';
import { ConfirmPublisher } from './rabbitmq.publisher';
import { RabbitMqTopology, type WorkQueue } from './rabbitmq.topology';

/**
 * Moves saga messages through RabbitMQ: durable queues, persistent messages, publisher confirms, manual acks,
 * bounded prefetch and a dead-letter queue per work queue. amqp-connection-manager reconnects; the setup functions
 * of its channels declare the topology again and re-create the consumers. The socket has TCP_NODELAY set: with
 * Nagle's algorithm, each confirm and ack can stall ~40 ms on delayed ACKs.
 */
export class RabbitMqTransport implements SagaTransport {
  readonly name = 'rabbitmq';
  private readonly logger = new Logger('RabbitMqTransport');
  private readonly options: ResolvedRabbitMqOptions;
  private readonly topology: RabbitMqTopology;
  private manager?: AmqpConnectionManager;
  private publishing?: ChannelWrapper;
  private subscribing?: ChannelWrapper;
  /** Publishes on the publisher's channel once its topology is declared; unset while disconnected. */
  private confirmPublisher?: ConfirmPublisher;
  private lastSetupError?: unknown;
  /**
   * Queues declared on the publisher channel and declared again after each reconnect: those of `connect(spec)`,
   * plus every destination published to. Declaring a destination's queue before the first publish to it keeps
   * messages sent before its consumer ever started; the `mandatory` flag alone would only report them as
   * unroutable. Publishes are mandatory too, which catches a queue deleted after it was declared here.
   */
  private readonly declared = new Map<string, WorkQueue>();
  private readonly consumers: QueueConsumer[] = [];
  /** `connect`, `consume` and `publish` calls in progress, which `close` lets finish first. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly watchedChannels = new WeakSet<Channel>();
  private recoveryTimer?: NodeJS.Timeout;
  private closing = false;
  private closed?: Promise<void>;

  constructor(options: RabbitMqTransportOptions) {
    this.options = resolveRabbitMqOptions(options);
    this.topology = new RabbitMqTopology(this.options);
  }

  async connect(spec: ConsumerSpec): Promise<void> {
    if (this.closing) throw new TransportError('This RabbitMQ transport is closed; create a new one.');
    if (this.manager) throw new TransportError('RabbitMQ transport: connect() was already called.');
    for (const participant of spec.participants)
      this.remember(this.topology.queueFor('command', participant));
    if (spec.replies) this.remember(this.topology.queueFor('reply', spec.replies));
    await this.track(this.open());
  }

  async publish(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const limit = this.options.maxMessageBytes;
    const outgoing: Outgoing[] = messages.map(({ message, body }) => {
      const content = Buffer.from(body, 'utf8');
      if (content.length > limit) throw new MessageTooLargeError(message.messageId, content.length, limit);
      return {
        exchange: this.topology.exchangeFor(message.kind),
        routingKey: message.destination,
        content,
        options: publishOptionsFor(message),
      };
    });
    const publisher = this.requirePublisher();
    await this.track(this.publishOn(publisher, messages, outgoing));
  }

  async consume(
    target: { commandsFor: string } | { repliesFor: string },
    handler: BatchHandler,
  ): Promise<void> {
    if (this.closing) throw new TransportError('This RabbitMQ transport is closed; create a new one.');
    if (!this.subscribing) throw new TransportError('RabbitMQ transport: call connect() before consume().');
    const queue =
      'commandsFor' in target
        ? this.topology.queueFor('command', target.commandsFor)
        : this.topology.queueFor('reply', target.repliesFor);
    if (this.consumers.some((c) => c.queue.name === queue.name)) {
      throw new TransportError(`RabbitMQ transport: ${queue.name} is already consumed by this transport.`);
    }
    const consumer = new QueueConsumer(queue, handler, {
      logger: this.logger,
      topology: this.topology,
      prefetch: this.options.prefetch,
      concurrency: this.options.concurrency,
      retryDelayMs: this.options.retryDelayMs,
      reconnectDelayMs: this.options.reconnectDelayMs,
      publishConfirmed: (message) =>
        this.requirePublisher().publish([message], this.options.publishTimeoutMs),
    });
    this.consumers.push(consumer);
    const setup = (channel: Channel) => this.guardSetup(channel, () => consumer.setup(channel));
    try {
      // Resolves once the consumer is subscribed (when connected), so that an immediate close() is safe.
      await this.track(this.subscribing.addSetup(setup));
    } catch (err) {
      this.consumers.splice(this.consumers.indexOf(consumer), 1);
      await this.subscribing.removeSetup(setup).catch(() => undefined);
      await consumer.stop();
      throw new TransportError(`Could not consume ${queue.name}: ${errorMessage(err)}`);
    }
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async open(): Promise<void> {
    const { urls, connectTimeoutMs } = this.options;
    const { manager, lastError } = await createConnection(this.options, this.logger, {
      onDisconnect: () => (this.confirmPublisher = undefined),
      isClosing: () => this.closing,
    });
    this.manager = manager;
    try {
      await manager.connect({ timeout: connectTimeoutMs });
      this.publishing = this.createChannel(manager, 'publisher', true, (channel: ConfirmChannel) =>
        this.setupPublisher(channel),
      );
      this.subscribing = this.createChannel(manager, 'subscriber', false, async (channel: Channel) => {
        this.watch(channel);
      });
      await withTimeout(
        Promise.all([this.publishing.waitForConnect(), this.subscribing.waitForConnect()]),
        connectTimeoutMs,
        'channels not ready',
      );
      if (!this.confirmPublisher)
        throw new Error(`declaring the topology failed: ${errorMessage(this.lastSetupError)}`);
    } catch (err) {
      const closedMeanwhile = this.closed !== undefined;
      this.closing = true;
      await manager.close().catch(() => undefined);
      if (closedMeanwhile)
        throw new TransportError('RabbitMQ transport: close() was called during connect().');
      const cause = lastError() ?? err;
      throw new TransportError(
        `Could not connect to RabbitMQ at ${urls.map(redact).join(', ')} within ${connectTimeoutMs} ms: ` +
          `${errorMessage(cause)}. Check that the broker is running and that the URL and credentials are right.`,
      );
    }
  }

  private createChannel(
    manager: AmqpConnectionManager,
    name: string,
    confirm: boolean,
    setup: SetupFunc,
  ): ChannelWrapper {
    const wrapper = manager.createChannel({ name, confirm, setup });
    wrapper.on('error', (err: Error) => {
      if (!this.closing) this.logger.error(`RabbitMQ ${name} channel setup failed: ${err.message}`);
    });
    return wrapper;
  }

  private async setupPublisher(channel: ConfirmChannel): Promise<void> {
    await this.guardSetup(channel, async () => {
      await this.topology.declareExchanges(channel);
      for (const queue of [...this.declared.values()]) await this.topology.declareQueue(channel, queue);
      this.confirmPublisher = new ConfirmPublisher(channel);
    });
  }

  /** Runs a setup step; failures after close() began are expected (the channel is closing) and not reported. */
  private async guardSetup(channel: Channel, step: () => Promise<void>): Promise<void> {
    this.watch(channel);
    if (this.closing) return;
    try {
      await step();
    } catch (err) {
      if (this.closing) return;
      this.lastSetupError = err;
      throw err;
    }
  }

  private async publishOn(publisher: ConfirmPublisher, messages: OutgoingMessage[], outgoing: Outgoing[]) {
    const queues = new Map(
      messages
        .map(({ message }) => this.topology.queueFor(message.kind, message.destination))
        .map((q) => [q.name, q]),
    );
    for (const queue of queues.values()) {
      if (this.declared.has(queue.name)) continue;
      try {
        await this.topology.declareQueue(publisher.channel, queue);
      } catch (err) {
        throw new TransportError(
          `Could not declare ${queue.name} before publishing to it: ${errorMessage(err)}`,
        );
      }
      this.remember(queue);
    }
    try {
      await publisher.publish(outgoing, this.options.publishTimeoutMs);
    } catch (err) {
      // Declare them again on the next attempt, in case a queue was deleted since.
      for (const name of queues.keys()) this.declared.delete(name);
      throw err;
    }
  }

  private requirePublisher(): ConfirmPublisher {
    if (this.confirmPublisher) return this.confirmPublisher;
    if (this.closing) throw new TransportError('This RabbitMQ transport is closed; create a new one.');
    if (!this.manager) throw new TransportError('RabbitMQ transport: call connect() before publish().');
    throw new TransportError('Not connected to RabbitMQ (reconnecting); publish again later.');
  }

  private remember(queue: WorkQueue): void {
    this.declared.set(queue.name, queue);
  }

  /** Logs channel errors, and restores a channel the broker closed on a live connection. */
  private watch(channel: Channel): void {
    if (this.watchedChannels.has(channel)) return;
    this.watchedChannels.add(channel);
    const connection = this.manager?.connection;
    channel.on('error', (err: Error) => {
      if (!this.closing) this.logger.warn(`RabbitMQ channel error: ${err.message}`);
    });
    channel.on('close', () => {
      if (this.confirmPublisher?.channel === channel) this.confirmPublisher = undefined;
      if (this.closing || this.recoveryTimer) return;
      // amqp-connection-manager replaces channels only when it reconnects. A channel the broker closed while the
      // connection stays up (a declaration conflicting with an existing queue, an ack of an unknown delivery tag)
      // would stay dead: reconnect to get new channels, unless the connection itself is already going.
      this.recoveryTimer = setTimeout(() => {
        this.recoveryTimer = undefined;
        const manager = this.manager;
        if (this.closing || !manager || !connection || manager.connection !== connection) return;
        this.logger.warn('A RabbitMQ channel closed on a live connection; reconnecting to restore it');
        manager.reconnect();
      }, this.options.reconnectDelayMs);
    });
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.recoveryTimer);
    const { closeTimeoutMs } = this.options;
    const drained = withTimeout(
      (async () => {
        await Promise.allSettled([...this.inFlight]);
        await Promise.all(this.consumers.map((c) => c.stop()));
        await Promise.all(this.consumers.map((c) => c.drain()));
      })(),
      closeTimeoutMs,
      'in-flight batches still running',
    );
    try {
      await drained;
    } catch (err) {
      this.logger.warn(
        `close(): ${errorMessage(err)} after ${closeTimeoutMs} ms; closing anyway, the broker requeues their messages`,
      );
    }
    const manager = this.manager;
    if (!manager) return;
    try {
      // Closes the channels (the broker requeues anything unacknowledged), then the connection.
      await withTimeout(manager.close(), closeTimeoutMs, 'the connection did not close');
      this.logger.log('Disconnected from RabbitMQ (closed)');
    } catch (err) {
      this.logger.warn(`Closing RabbitMQ: ${errorMessage(err)}`);
    }
    this.confirmPublisher = undefined;
  }

  private track<T>(operation: Promise<T>): Promise<T> {
    this.inFlight.add(operation);
    const forget = () => this.inFlight.delete(operation);
    operation.then(forget, forget);
    return operation;
  }
}
