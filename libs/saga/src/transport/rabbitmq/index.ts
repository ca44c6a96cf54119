import type { RabbitMqTransportOptions } from './rabbitmq.options';
import { RabbitMqTransport } from './rabbitmq.transport';

export { RabbitMqTransport } from './rabbitmq.transport';
export type { RabbitMqTopologyNames, RabbitMqTransportOptions } from './rabbitmq.options';

/**
 * The RabbitMQ transport, for `SagaModule.forRoot({ transport: rabbitMqTransport({ url }) })`.
 * It connects only when the saga module starts (`connect`), never on construction.
 */
export function rabbitMqTransport(options: RabbitMqTransportOptions): RabbitMqTransport {
  return new RabbitMqTransport(options);
}
