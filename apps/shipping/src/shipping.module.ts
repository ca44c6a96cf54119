import { Module } from '@nestjs/common';
import { CreateShipments1760000003000 } from './migrations/1760000003000-create-shipments';
import { Shipment } from './shipment.entity';
import { ShippingParticipant } from './shipping.participant';
import { ShippingService } from './shipping.service';

/** The shipping service's tables, for the root module's DataSource. */
export const shippingEntities = [Shipment];
export const shippingMigrations = [CreateShipments1760000003000];

/** The shipping participant. The root module decides the database and the saga transport. */
@Module({
  providers: [ShippingService, ShippingParticipant],
  exports: [ShippingService],
})
export class ShippingModule {}
