import { PaymentModule, paymentEntities, paymentMigrations } from '../../apps/payment/src/payment.module';
import { serveControl } from '../lib/control';
import { runEntry, SAGA_DATABASES, sagaTransportOptions } from './common';
import { CountingRabbitMqTransport } from './instrumentation';
import { postgresUrl, seedBenchCustomers, startBenchService } from './service';

/** The payment participant of the distributed saga variant. */
runEntry('payment', async () => {
  const service = await startBenchService({
    service: 'payment',
    databaseUrl: postgresUrl(SAGA_DATABASES.payment),
    schema: { entities: paymentEntities, migrations: paymentMigrations },
    modules: [PaymentModule],
    transport: (counters) => new CountingRabbitMqTransport(sagaTransportOptions('payment'), counters),
  });
  await seedBenchCustomers(service);
  serveControl({ stats: () => service.stats(), shutdown: () => service.close() });
});
