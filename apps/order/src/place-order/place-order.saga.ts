import { Compensation, OnReply, SagaOrchestration, Step, type SagaContext } from 'nestjs-saga';
import {
  CHARGE_PAYMENT,
  PAYMENT_PARTICIPANT,
  REFUND_PAYMENT,
  type ChargePayment,
  type PaymentCharged,
  type RefundPayment,
} from '../../../shared/src/contracts/payment.contracts';
import {
  SCHEDULE_SHIPMENT,
  SHIPPING_PARTICIPANT,
  type ScheduleShipment,
  type ShipmentScheduled,
} from '../../../shared/src/contracts/shipping.contracts';
import { OrdersService } from '../orders/orders.service';
import { PlaceOrderData } from './place-order.data';

type Ctx = SagaContext<PlaceOrderData>;

/**
 * Places an order: create it (PENDING), charge the customer, schedule the shipment (the pivot),
 * approve it. A declined payment or a refused shipment rejects the order and refunds the payment.
 */
@SagaOrchestration({ name: 'place-order', data: PlaceOrderData, sideEffects: false })
export class PlaceOrderSaga {
  constructor(private readonly orders: OrdersService) {}

  @Step(1)
  create(ctx: Ctx): Promise<void> {
    return this.orders.createPending(ctx.manager, ctx.sagaId, ctx.data);
  }

  @Compensation('create')
  reject(ctx: Ctx): Promise<void> {
    return this.orders.reject(ctx.manager, ctx.data.orderId);
  }

  @Step(2, { participant: PAYMENT_PARTICIPANT, command: CHARGE_PAYMENT, retry: { attempts: 3 } })
  charge(ctx: Ctx): ChargePayment {
    const { orderId, customerId, amount } = ctx.data;
    return { orderId, customerId, amount };
  }

  @OnReply('charge')
  charged(ctx: Ctx, reply: PaymentCharged): void {
    ctx.data.paymentId = reply.paymentId;
  }

  @Compensation('charge', { command: REFUND_PAYMENT })
  refund(ctx: Ctx): RefundPayment {
    return { orderId: ctx.data.orderId, paymentId: ctx.data.paymentId };
  }

  @Step(3, { participant: SHIPPING_PARTICIPANT, command: SCHEDULE_SHIPMENT, pivot: true })
  ship(ctx: Ctx): ScheduleShipment {
    const { orderId, country, address } = ctx.data;
    return { orderId, country, address };
  }

  @OnReply('ship')
  shipped(ctx: Ctx, reply: ShipmentScheduled): void {
    ctx.data.shipmentId = reply.shipmentId;
  }

  /** After the pivot: retried until it succeeds, never compensated. */
  @Step(4)
  approve(ctx: Ctx): Promise<void> {
    return this.orders.approve(ctx.manager, ctx.data.orderId);
  }
}
