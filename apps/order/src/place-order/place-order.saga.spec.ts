import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { SagaContext } from 'nestjs-saga';
import type { EntityManager } from 'typeorm';
import { ChargePayment, RefundPayment } from '../../../shared/src/contracts/payment.contracts';
import { ScheduleShipment } from '../../../shared/src/contracts/shipping.contracts';
import type { OrdersService } from '../orders/orders.service';
import { PlaceOrderData } from './place-order.data';
import { PlaceOrderSaga } from './place-order.saga';

const data = (): PlaceOrderData =>
  Object.assign(new PlaceOrderData(), {
    orderId: '3f1c2b1e-8f5a-4c55-9d0e-0b7f5d0c9a11',
    customerId: 'alice',
    amount: 100,
    country: 'FR',
    address: '1 rue de Rivoli',
  });

const ctx = (d: PlaceOrderData): SagaContext<PlaceOrderData> => ({
  sagaId: 'saga-1',
  sagaType: 'place-order',
  data: d,
  manager: {} as EntityManager,
  step: 'charge',
  attempt: 1,
});

/** The commands the saga sends must satisfy the participants' payload classes. */
const errorsOf = (type: new () => object, payload: object) =>
  validateSync(plainToInstance(type, payload), { forbidUnknownValues: true });

describe('PlaceOrderSaga', () => {
  const saga = new PlaceOrderSaga({} as OrdersService);

  it('validates its data', () => {
    expect(validateSync(data())).toEqual([]);
    const bad = Object.assign(data(), { orderId: 'x', amount: 0, country: 'France' });
    expect(
      validateSync(bad)
        .map((e) => e.property)
        .sort(),
    ).toEqual(['amount', 'country', 'orderId']);
  });

  it('sends valid commands and keeps the participants’ ids in its data', () => {
    const c = ctx(data());
    expect(errorsOf(ChargePayment, saga.charge(c))).toEqual([]);
    saga.charged(c, { paymentId: '9b2f7c1e-1d5a-4e0b-8c3a-2f4d6e8a0b1c' });
    expect(errorsOf(RefundPayment, saga.refund(c))).toEqual([]);
    expect(saga.refund(c)).toEqual({
      orderId: c.data.orderId,
      paymentId: '9b2f7c1e-1d5a-4e0b-8c3a-2f4d6e8a0b1c',
    });
    expect(errorsOf(ScheduleShipment, saga.ship(c))).toEqual([]);
    saga.shipped(c, { shipmentId: 'c0ffee00-1d5a-4e0b-8c3a-2f4d6e8a0b1c' });
    expect(validateSync(c.data)).toEqual([]);
  });
});
