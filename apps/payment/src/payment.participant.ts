import { HandleCommand, SagaParticipant, StepFailure, type CommandContext } from 'nestjs-saga';
import {
  CHARGE_PAYMENT,
  ChargePayment,
  PAYMENT_PARTICIPANT,
  REFUND_PAYMENT,
  RefundPayment,
  type PaymentCharged,
  type PaymentRefunded,
} from '../../shared/src/contracts/payment.contracts';
import { PaymentsService } from './payments.service';

/** Executes the payment commands of sagas, each in one transaction with its inbox row and its reply. */
@SagaParticipant(PAYMENT_PARTICIPANT)
export class PaymentParticipant {
  constructor(private readonly payments: PaymentsService) {}

  @HandleCommand(CHARGE_PAYMENT, { payload: ChargePayment, sideEffects: false })
  async charge(cmd: ChargePayment, ctx: CommandContext): Promise<PaymentCharged> {
    const result = await this.payments.charge(ctx.manager, cmd, ctx.attempt);
    if (!result.ok) throw new StepFailure(result.reason, { customerId: cmd.customerId });
    return { paymentId: result.payment.id };
  }

  @HandleCommand(REFUND_PAYMENT, { payload: RefundPayment, sideEffects: false })
  refund(cmd: RefundPayment, ctx: CommandContext): Promise<PaymentRefunded> {
    return this.payments.refund(ctx.manager, cmd);
  }
}
