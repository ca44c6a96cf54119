import { OrderModule, orderEntities, orderMigrations } from '../../apps/order/src/order.module';
import { amqpUrl, runEntry, SAGA_DATABASES, SAGA_PREFIX } from './common';
import { serveDriverControl } from './driver';
import { CountingRabbitMqTransport } from './instrumentation';
import { postgresUrl, startBenchService } from './service';

/** The order service of the distributed saga variant: it owns the place-order saga and drives the load. */
runEntry('order', async () => {
  const service = await startBenchService({
    service: 'order',
    databaseUrl: postgresUrl(SAGA_DATABASES.order),
    schema: { entities: orderEntities, migrations: orderMigrations },
    modules: [OrderModule],
    transport: (counters) => new CountingRabbitMqTransport({ url: amqpUrl(), prefix: SAGA_PREFIX }, counters),
  });
  serveDriverControl(service);
});
