import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { execute } from '../../shared/src/database';
import type {
  ChargePayment,
  PaymentRefunded,
  RefundPayment,
} from '../../shared/src/contracts/payment.contracts';
import { Customer } from './customer.entity';
import { Payment } from './payment.entity';
import { uuidv7 } from 'nestjs-saga';

export type ChargeResult = { ok: true; payment: Payment } | { ok: false; reason: string };

/** A customer to create at startup when missing. */
export interface CustomerSeed {
  id: string;
  creditLimit: number;
}

/** Charges and refunds. Every method runs in the caller's transaction (the participant's inbox transaction). */
@Injectable()
export class PaymentsService {
  /**
   * Charges the order once: a repeated charge for the same order returns the first payment.
   * @param attempt the saga's attempt (`ctx.attempt`). The first attempt's command reaches the handler once (the
   *   participant's inbox drops its redeliveries), so only a retry (a new command after a reply timeout) looks for
   *   the charge of an earlier attempt first: that saves a query on the common path. If a first attempt did find
   *   one, the unique `order_id` would refuse the second payment and the whole charge would roll back.
   */
  async charge(manager: EntityManager, cmd: ChargePayment, attempt = Infinity): Promise<ChargeResult> {
    const existing = attempt > 1 ? await manager.findOneBy(Payment, { orderId: cmd.orderId }) : null;
    if (existing) {
      return existing.status === 'CHARGED'
        ? { ok: true, payment: existing }
        : { ok: false, reason: `order ${cmd.orderId} was already refunded` };
    }
    // Check and debit in one statement, so concurrent charges cannot overdraw the credit.
    const { customerId, amount } = cmd;
    const debited = await execute(manager)`
      UPDATE customers SET available_credit = available_credit - ${amount}, updated_at = CURRENT_TIMESTAMP
      WHERE id = ${customerId} AND available_credit >= ${amount}`;
    if (!debited) {
      // The rare path: tell an unknown customer from one without enough credit.
      const known = await manager.existsBy(Customer, { id: cmd.customerId });
      return { ok: false, reason: known ? 'insufficient credit' : `unknown customer '${cmd.customerId}'` };
    }
    const payment = manager.create(Payment, {
      id: uuidv7(),
      orderId: cmd.orderId,
      customerId,
      amount,
      status: 'CHARGED',
    });
    await execute(manager)`
      INSERT INTO payments (id, order_id, customer_id, amount, status)
      VALUES (${payment.id}, ${payment.orderId}, ${customerId}, ${amount}, ${payment.status})`;
    return { ok: true, payment };
  }

  /** Refunds the payment and restores the credit. Idempotent: a missing or refunded payment is left as is. */
  async refund(manager: EntityManager, cmd: RefundPayment): Promise<PaymentRefunded> {
    const payment = await manager.findOneBy(
      Payment,
      cmd.paymentId ? { id: cmd.paymentId } : { orderId: cmd.orderId },
    );
    if (!payment || payment.status !== 'CHARGED') return { refunded: false };
    const updated = await manager.update(
      Payment,
      { id: payment.id, status: 'CHARGED' },
      { status: 'REFUNDED' },
    );
    if (!updated.affected) return { refunded: false };
    await manager.increment(Customer, { id: payment.customerId }, 'availableCredit', payment.amount);
    return { refunded: true };
  }

  /** Creates the customers that do not exist yet, with their full credit available. */
  async seedCustomers(manager: EntityManager, seeds: readonly CustomerSeed[]): Promise<void> {
    const rows = seeds.map((s) => ({ id: s.id, creditLimit: s.creditLimit, availableCredit: s.creditLimit }));
    await manager.createQueryBuilder().insert().into(Customer).values(rows).orIgnore().execute();
  }
}
