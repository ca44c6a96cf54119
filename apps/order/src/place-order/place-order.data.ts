import { IsOptional, IsUUID } from 'class-validator';
import { OrderRequest } from '../orders/order-request.dto';

/** The place-order saga's data: the request, the order id, and what the participants replied. */
export class PlaceOrderData extends OrderRequest {
  @IsUUID()
  orderId: string;

  /** Set when the payment service charged the order. */
  @IsOptional()
  @IsUUID()
  paymentId?: string;

  /** Set when the shipping service scheduled the shipment. */
  @IsOptional()
  @IsUUID()
  shipmentId?: string;
}
