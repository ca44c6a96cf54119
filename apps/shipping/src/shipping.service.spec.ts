import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { inMemoryDataSource } from '../../shared/src/testing';
import { Shipment } from './shipment.entity';
import { shippingEntities, shippingMigrations } from './shipping.module';
import { ShippingService } from './shipping.service';

describe('ShippingService', () => {
  let db: DataSource;
  const shipping = new ShippingService();
  const schedule = (country: string, orderId = randomUUID()) =>
    db.transaction((m) => shipping.schedule(m, { orderId, country, address: '1 Main St' }));

  beforeEach(async () => {
    db = await inMemoryDataSource({ entities: shippingEntities, migrations: shippingMigrations });
  });
  afterEach(() => db.destroy());

  it('schedules a shipment to an allowed country', async () => {
    const result = await schedule('FR');
    expect(result).toMatchObject({ ok: true, shipment: { country: 'FR', status: 'SCHEDULED' } });
    expect(await db.manager.count(Shipment)).toBe(1);
  });

  it.each(['KP', 'AQ', 'aq'])('refuses the blocked country %s, writing nothing', async (country) => {
    expect(await schedule(country)).toEqual({ ok: false, reason: `cannot ship to ${country.toUpperCase()}` });
    expect(await db.manager.count(Shipment)).toBe(0);
  });

  it('looks for an earlier shipment on retries only; a repeated first attempt fails on the unique key', async () => {
    const cmd = { orderId: randomUUID(), country: 'FR', address: '1 Main St' };
    const first = await db.transaction((m) => shipping.schedule(m, cmd, 1));
    await expect(db.transaction((m) => shipping.schedule(m, cmd, 1))).rejects.toThrow(/UNIQUE|unique/);
    // The same shipment (the first schedule did not read its dates back).
    expect(await db.transaction((m) => shipping.schedule(m, cmd, 2))).toMatchObject(first);
    expect(await db.manager.count(Shipment)).toBe(1);
  });

  it('schedules an order once: a repeated command returns the first shipment', async () => {
    const orderId = randomUUID();
    const first = await schedule('DE', orderId);
    const again = await schedule('DE', orderId);
    expect(first.ok && again.ok && again.shipment.id === first.shipment.id).toBe(true);
    expect(await db.manager.count(Shipment)).toBe(1);
  });
});
