import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { execute } from '../../shared/src/database';
import type { ScheduleShipment } from '../../shared/src/contracts/shipping.contracts';
import { Shipment } from './shipment.entity';
import { uuidv7 } from 'nestjs-saga';

/** Countries we do not ship to (ISO 3166-1 alpha-2). */
export const BLOCKED_COUNTRIES: ReadonlySet<string> = new Set(['KP', 'AQ']);

export type ScheduleResult = { ok: true; shipment: Shipment } | { ok: false; reason: string };

/** Shipments. Every method runs in the caller's transaction (the participant's inbox transaction). */
@Injectable()
export class ShippingService {
  /**
   * Schedules the order's shipment once: a repeated command returns the first shipment.
   * @param attempt the saga's attempt (`ctx.attempt`): only a retry looks for an earlier attempt's shipment first
   *   (see `PaymentsService.charge`; the unique `order_id` guards the rest).
   */
  async schedule(manager: EntityManager, cmd: ScheduleShipment, attempt = Infinity): Promise<ScheduleResult> {
    const country = cmd.country.toUpperCase();
    if (BLOCKED_COUNTRIES.has(country)) return { ok: false, reason: `cannot ship to ${country}` };
    const existing = attempt > 1 ? await manager.findOneBy(Shipment, { orderId: cmd.orderId }) : null;
    if (existing) return { ok: true, shipment: existing };
    const shipment = manager.create(Shipment, {
      id: uuidv7(),
      orderId: cmd.orderId,
      country,
      address: cmd.address,
      status: 'SCHEDULED',
    });
    await execute(manager)`
      INSERT INTO shipments (id, order_id, country, address, status)
      VALUES (${shipment.id}, ${shipment.orderId}, ${country}, ${shipment.address}, ${shipment.status})`;
    return { ok: true, shipment };
  }
}
