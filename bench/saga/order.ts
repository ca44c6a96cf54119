import { OrderModule, orderEntities, orderMigrations } from '../../apps/order/src/order.module';
import { runEntry, SAGA_DATABASES, sagaTransportOptions } from './common';
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
    transport: (counters) => new CountingRabbitMqTransport(sagaTransportOptions('order'), counters),
  });
  serveDriverControl(service);
});
