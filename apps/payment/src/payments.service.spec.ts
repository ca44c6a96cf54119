import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { inMemoryDataSource } from '../../shared/src/testing';
import { Customer } from './customer.entity';
import { DEMO_CUSTOMERS } from './customer-seeder';
import { Payment } from './payment.entity';
import { paymentEntities, paymentMigrations } from './payment.module';
import { PaymentsService } from './payments.service';

describe('PaymentsService', () => {
  let db: DataSource;
  const payments = new PaymentsService();
  const credit = async (id: string) => (await db.manager.findOneByOrFail(Customer, { id })).availableCredit;
  const charge = (customerId: string, amount: number, orderId = randomUUID()) =>
    db.transaction((m) => payments.charge(m, { orderId, customerId, amount }));
  const refund = (orderId: string, paymentId?: string) =>
    db.transaction((m) => payments.refund(m, { orderId, paymentId }));

  beforeEach(async () => {
    db = await inMemoryDataSource({ entities: paymentEntities, migrations: paymentMigrations });
    await payments.seedCustomers(db.manager, DEMO_CUSTOMERS);
  });
  afterEach(() => db.destroy());

  it('looks for an earlier charge on retries only; a repeated first attempt fails on the unique key, debiting nothing', async () => {
    const orderId = randomUUID();
    const cmd = { orderId, customerId: 'bob', amount: 300 };
    const first = await db.transaction((m) => payments.charge(m, cmd, 1));
    const after = await credit('bob');
    await expect(db.transaction((m) => payments.charge(m, cmd, 1))).rejects.toThrow(/UNIQUE|unique/);
    expect(await credit('bob')).toBe(after);
    const retry = await db.transaction((m) => payments.charge(m, cmd, 2));
    expect(retry).toMatchObject(first); // the same payment (the first charge did not read its dates back)
    expect(await credit('bob')).toBe(after);
  });

  it('seeds missing customers only, keeping the credit of existing ones', async () => {
    await charge('alice', 100);
    await payments.seedCustomers(db.manager, DEMO_CUSTOMERS);
    expect(await db.manager.count(Customer)).toBe(3);
    expect(await credit('alice')).toBe(900);
  });

  it('charges within the credit and deducts it', async () => {
    const result = await charge('alice', 100.5);
    expect(result).toMatchObject({
      ok: true,
      payment: { customerId: 'alice', amount: 100.5, status: 'CHARGED' },
    });
    expect(await credit('alice')).toBe(899.5);
  });

  it('declines a charge above the available credit, writing nothing', async () => {
    expect(await charge('carol', 100)).toEqual({ ok: false, reason: 'insufficient credit' });
    expect(await credit('carol')).toBe(10);
    expect(await db.manager.count(Payment)).toBe(0);
  });

  it('declines an unknown customer', async () => {
    expect(await charge('mallory', 1)).toEqual({ ok: false, reason: "unknown customer 'mallory'" });
  });

  it('charges an order once: a repeated command returns the first payment', async () => {
    const orderId = randomUUID();
    const first = await charge('bob', 300, orderId);
    const again = await charge('bob', 300, orderId);
    expect(first.ok && again.ok && again.payment.id === first.payment.id).toBe(true);
    expect(await credit('bob')).toBe(700);
  });

  it('refunds once and restores the credit; refunding again or a missing payment is a no-op', async () => {
    const orderId = randomUUID();
    const charged = await charge('bob', 250, orderId);
    if (!charged.ok) throw new Error('charge failed');
    expect(await refund(orderId, charged.payment.id)).toEqual({ refunded: true });
    expect(await refund(orderId, charged.payment.id)).toEqual({ refunded: false });
    expect(await refund(orderId)).toEqual({ refunded: false });
    expect(await refund(randomUUID(), randomUUID())).toEqual({ refunded: false });
    expect(await credit('bob')).toBe(1000);
    expect((await db.manager.findOneByOrFail(Payment, { orderId })).status).toBe('REFUNDED');
  });

  it('finds the payment by order when the refund carries no payment id', async () => {
    const orderId = randomUUID();
    await charge('alice', 40, orderId);
    expect(await refund(orderId)).toEqual({ refunded: true });
    expect(await credit('alice')).toBe(1000);
  });

  it('does not charge again an order that was refunded', async () => {
    const orderId = randomUUID();
    await charge('alice', 40, orderId);
    await refund(orderId);
    expect(await charge('alice', 40, orderId)).toEqual({
      ok: false,
      reason: `order ${orderId} was already refunded`,
    });
    expect(await credit('alice')).toBe(1000);
  });
});
