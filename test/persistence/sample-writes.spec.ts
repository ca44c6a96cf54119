import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Order } from '../../apps/order/src/orders/order.entity';
import { OrdersService } from '../../apps/order/src/orders/orders.service';
import { orderEntities, orderMigrations } from '../../apps/order/src/order.module';
import { Customer } from '../../apps/payment/src/customer.entity';
import { Payment } from '../../apps/payment/src/payment.entity';
import { paymentEntities, paymentMigrations } from '../../apps/payment/src/payment.module';
import { PaymentsService } from '../../apps/payment/src/payments.service';
import { execute } from '../../apps/shared/src/database';
import { Shipment } from '../../apps/shipping/src/shipment.entity';
import { shippingEntities, shippingMigrations } from '../../apps/shipping/src/shipping.module';
import { ShippingService } from '../../apps/shipping/src/shipping.service';
import { testDatabases } from './databases';

/**
 * The sample services' hot-path writes are SQL (`execute` in apps/shared/src/database.ts), which must run alike on
 * every database the sample supports: placeholders, unquoted names, `CURRENT_TIMESTAMP`, the count of changed rows.
 */
describe.each(testDatabases('sample_writes'))('the sample services’ SQL writes on $name', (database) => {
  let db: DataSource;
  const payments = new PaymentsService();
  const shipping = new ShippingService();
  const orders = new OrdersService(undefined as never); // its repository only serves reads, unused here

  beforeAll(async () => {
    // A fresh, empty database, then the sample's own tables in it.
    const empty = await database.open({ migrate: false });
    const options = empty.options;
    await empty.destroy();
    db = await new DataSource({
      ...options,
      // The sample names its tables unqualified, as they are found on the connection's search path; it sets no
      // `schema` option, this spec does (its own PostgreSQL schema): put that schema on the search path.
      ...(options.type === 'postgres' ? { extra: { options: `-c search_path=${options.schema}` } } : {}),
      entities: [...orderEntities, ...paymentEntities, ...shippingEntities],
      migrations: [...orderMigrations, ...paymentMigrations, ...shippingMigrations],
    }).initialize();
    await db.runMigrations();
    await payments.seedCustomers(db.manager, [{ id: 'ann', creditLimit: 100 }]);
  });
  afterAll(() => db?.destroy());

  it('debits the credit and records the payment; refuses an overdraft and an unknown customer, changing nothing', async () => {
    const orderId = randomUUID();
    const charged = await db.transaction((m) =>
      payments.charge(m, { orderId, customerId: 'ann', amount: 60.5 }),
    );
    expect(charged).toMatchObject({ ok: true, payment: { orderId, customerId: 'ann', amount: 60.5 } });
    const stored = await db.manager.findOneByOrFail(Payment, { orderId });
    expect(stored).toMatchObject({ customerId: 'ann', amount: 60.5, status: 'CHARGED' });
    expect(stored.createdAt).toBeInstanceOf(Date);

    const over = await db.transaction((m) =>
      payments.charge(m, { orderId: randomUUID(), customerId: 'ann', amount: 40 }),
    );
    expect(over).toEqual({ ok: false, reason: 'insufficient credit' });
    const unknown = await db.transaction((m) =>
      payments.charge(m, { orderId: randomUUID(), customerId: 'nobody', amount: 1 }),
    );
    expect(unknown).toEqual({ ok: false, reason: "unknown customer 'nobody'" });
    expect((await db.manager.findOneByOrFail(Customer, { id: 'ann' })).availableCredit).toBe(39.5);
    expect(await db.manager.count(Payment)).toBe(1);
  });

  it('creates an order PENDING and approves it, stamping updated_at', async () => {
    const orderId = randomUUID();
    const sagaId = randomUUID();
    await db.transaction((m) =>
      orders.createPending(m, sagaId, { orderId, customerId: 'ann', amount: 12.25, country: 'FR' }),
    );
    const pending = await db.manager.findOneByOrFail(Order, { id: orderId });
    expect(pending).toMatchObject({ status: 'PENDING', sagaId, amount: 12.25, country: 'FR' });
    await db.transaction((m) => orders.approve(m, orderId));
    const approved = await db.manager.findOneByOrFail(Order, { id: orderId });
    expect(approved.status).toBe('APPROVED');
    expect(approved.updatedAt.getTime()).toBeGreaterThanOrEqual(pending.createdAt.getTime());
  });

  it('schedules a shipment with the address as given', async () => {
    const orderId = randomUUID();
    const address = "1 rue d'Arcole; DROP TABLE shipments; --";
    const result = await db.transaction((m) => shipping.schedule(m, { orderId, country: 'fr', address }));
    expect(result).toMatchObject({ ok: true, shipment: { orderId, country: 'FR' } });
    expect(await db.manager.findOneByOrFail(Shipment, { orderId })).toMatchObject({
      address,
      status: 'SCHEDULED',
    });
  });

  it('execute: values are parameters, never SQL text; returns the rows changed, also outside a transaction', async () => {
    await payments.seedCustomers(db.manager, [
      { id: "o'hara", creditLimit: 10 },
      { id: 'zed', creditLimit: 10 },
    ]);
    const credit = 5;
    const changed = await execute(db.manager)`
      UPDATE customers SET available_credit = available_credit - ${credit} WHERE id IN (${"o'hara"}, ${'zed'})`;
    expect(changed).toBe(2);
    expect(await execute(db.manager)`UPDATE customers SET credit_limit = 0 WHERE id = ${'none'}`).toBe(0);
    expect((await db.manager.findOneByOrFail(Customer, { id: "o'hara" })).availableCredit).toBe(5);
  });
});
