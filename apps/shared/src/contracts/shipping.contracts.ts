import { IsISO31661Alpha2, IsNotEmpty, IsString, IsUUID } from 'class-validator';

/** The messages between the order saga and the shipping participant (the shipping service's API). */
export const SHIPPING_PARTICIPANT = 'shipping';
export const SCHEDULE_SHIPMENT = 'ScheduleShipment';

export class ScheduleShipment {
  @IsUUID()
  orderId: string;

  @IsISO31661Alpha2()
  country: string;

  @IsString()
  @IsNotEmpty()
  address: string;
}

export interface ShipmentScheduled {
  shipmentId: string;
}
