import { HandleCommand, SagaParticipant, StepFailure, type CommandContext } from 'nestjs-saga';
import {
  SCHEDULE_SHIPMENT,
  SHIPPING_PARTICIPANT,
  ScheduleShipment,
  type ShipmentScheduled,
} from '../../shared/src/contracts/shipping.contracts';
import { ShippingService } from './shipping.service';

/** Executes the shipping commands of sagas, each in one transaction with its inbox row and its reply. */
@SagaParticipant(SHIPPING_PARTICIPANT)
export class ShippingParticipant {
  constructor(private readonly shipping: ShippingService) {}

  @HandleCommand(SCHEDULE_SHIPMENT, { payload: ScheduleShipment, sideEffects: false })
  async schedule(cmd: ScheduleShipment, ctx: CommandContext): Promise<ShipmentScheduled> {
    const result = await this.shipping.schedule(ctx.manager, cmd, ctx.attempt);
    if (!result.ok) throw new StepFailure(result.reason, { country: cmd.country });
    return { shipmentId: result.shipment.id };
  }
}
