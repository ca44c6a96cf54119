import {
  ShippingModule,
  shippingEntities,
  shippingMigrations,
} from '../../apps/shipping/src/shipping.module';
import { serveControl } from '../lib/control';
import { runEntry, SAGA_DATABASES, sagaTransportOptions } from './common';
import { CountingRabbitMqTransport } from './instrumentation';
import { postgresUrl, startBenchService } from './service';

/** The shipping participant of the distributed saga variant. */
runEntry('shipping', async () => {
  const service = await startBenchService({
    service: 'shipping',
    databaseUrl: postgresUrl(SAGA_DATABASES.shipping),
    schema: { entities: shippingEntities, migrations: shippingMigrations },
    modules: [ShippingModule],
    transport: (counters) => new CountingRabbitMqTransport(sagaTransportOptions('shipping'), counters),
  });
  serveControl({ stats: () => service.stats(), shutdown: () => service.close() });
});
