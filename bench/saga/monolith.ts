import { OrderModule, orderEntities, orderMigrations } from '../../apps/order/src/order.module';
import { PaymentModule, paymentEntities, paymentMigrations } from '../../apps/payment/src/payment.module';
import {
  ShippingModule,
  shippingEntities,
  shippingMigrations,
} from '../../apps/shipping/src/shipping.module';
import { runEntry } from './common';
import { serveDriverControl } from './driver';
import { CountingInProcessTransport } from './instrumentation';
import { seedBenchCustomers, startBenchService } from './service';

/**
 * The monolith variants: the three modules in one process with the in-process transport, as `MonolithModule`,
 * on the database of BENCH_DATABASE_URL (`sqlite:<file>` or `postgres://…`). It drives the load itself.
 */
runEntry('monolith', async () => {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is required (sqlite:<file> or postgres://…)');
  const service = await startBenchService({
    service: 'shop',
    databaseUrl,
    schema: {
      entities: [...orderEntities, ...paymentEntities, ...shippingEntities],
      migrations: [...orderMigrations, ...paymentMigrations, ...shippingMigrations],
    },
    modules: [OrderModule, PaymentModule, ShippingModule],
    transport: (counters) => new CountingInProcessTransport(counters),
  });
  await seedBenchCustomers(service);
  serveDriverControl(service);
});
