import type { Channel, ConsumeMessage } from 'amqplib';
import type { SagaMessage } from '../../../../libs/saga/src/transport/message';
import { resolveRabbitMqOptions } from '../../../../libs/saga/src/transport/rabbitmq/rabbitmq.options';
import { RabbitMqTopology } from '../../../../libs/saga/src/transport/rabbitmq/rabbitmq.topology';
import { AMQP_URL, eventually } from '../../../rabbitmq/rabbitmq.helpers';

/**
 * Stands in for a coordinating service named `service`: declares its reply queue exactly as the transport
 * does (`<prefix>.<service>.replies`, bound to `<prefix>.replies` with the service name as routing key, with
 * its DLQ) and records every reply that arrives there. Commands sent with `replyTo: service` answer here.
 */
export class ReplyProbe {
  readonly replies: SagaMessage[] = [];
  readonly queue: string;
  private readonly topology: RabbitMqTopology;
  private consumerTag?: string;

  constructor(
    private readonly channel: Channel,
    prefix: string,
    readonly service: string,
  ) {
    this.topology = new RabbitMqTopology(resolveRabbitMqOptions({ url: AMQP_URL, prefix }));
    this.queue = this.topology.queueFor('reply', service).name;
  }

  async start(): Promise<void> {
    await this.topology.declareQueue(this.channel, this.topology.queueFor('reply', this.service));
    const { consumerTag } = await this.channel.consume(this.queue, (msg: ConsumeMessage | null) => {
      if (!msg) return;
      this.replies.push(JSON.parse(msg.content.toString('utf8')) as SagaMessage);
      this.channel.ack(msg);
    });
    this.consumerTag = consumerTag;
  }

  /** The replies received so far for this saga. */
  for(sagaId: string): SagaMessage[] {
    return this.replies.filter((r) => r.sagaId === sagaId);
  }

  /** Waits until at least `count` replies for this saga have arrived, and returns them all. */
  async waitFor(sagaId: string, count = 1, timeoutMs = 10_000): Promise<SagaMessage[]> {
    await eventually(() => this.for(sagaId).length >= count, timeoutMs).catch(() => {
      throw new Error(`${this.for(sagaId).length} of ${count} replies for saga ${sagaId} in ${timeoutMs} ms`);
    });
    return this.for(sagaId);
  }

  async stop(): Promise<void> {
    if (this.consumerTag) await this.channel.cancel(this.consumerTag);
    this.consumerTag = undefined;
  }
}
