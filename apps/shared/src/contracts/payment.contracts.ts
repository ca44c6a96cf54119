import { IsNotEmpty, IsNumber, IsOptional, IsPositive, IsString, IsUUID } from 'class-validator';

/** The messages between the order saga and the payment participant (the payment service's API). */
export const PAYMENT_PARTICIPANT = 'payment';
export const CHARGE_PAYMENT = 'ChargePayment';
export const REFUND_PAYMENT = 'RefundPayment';

export class ChargePayment {
  @IsUUID()
  orderId: string;

  @IsString()
  @IsNotEmpty()
  customerId: string;

  @IsNumber({ allowNaN: false, allowInfinity: false, maxDecimalPlaces: 2 })
  @IsPositive()
  amount: number;
}

export interface PaymentCharged {
  paymentId: string;
}

/** Refunds the order's payment (found by `paymentId`, or by `orderId` when the id never reached the saga). */
export class RefundPayment {
  @IsUUID()
  orderId: string;

  @IsOptional()
  @IsUUID()
  paymentId?: string;
}

export interface PaymentRefunded {
  /** False when there was nothing to refund (no payment, or already refunded): refunds are idempotent. */
  refunded: boolean;
}
