import { PaymentModule, paymentEntities, paymentMigrations } from '../../apps/payment/src/payment.module';
import { serveControl } from '../lib/control';
import { amqpUrl, runEntry, SAGA_DATABASES, SAGA_PREFIX } from './common';
import { CountingRabbitMqTransport } from './instrumentation';
import { postgresUrl, seedBenchCustomers, startBenchService } from './service';

/** The payment participant of the distributed saga variant. */
runEntry('payment', async () => {
  const service = await startBenchService({
    service: 'payment',
    databaseUrl: postgresUrl(SAGA_DATABASES.payment),
    schema: { entities: paymentEntities, migrations: paymentMigrations },
    modules: [PaymentModule],
    transport: (counters) => new CountingRabbitMqTransport({ url: amqpUrl(), prefix: SAGA_PREFIX }, counters),
  });
  await seedBenchCustomers(service);
  serveControl({ stats: () => service.stats(), shutdown: () => service.close() });
});
