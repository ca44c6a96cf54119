import { Module } from '@nestjs/common';
import { HealthController } from '../../shared/src/health.controller';
import { TelemetryModule } from '../../shared/src/telemetry.module';
import { serviceInfrastructure } from '../../shared/src/service-root';
import { loadShippingConfig } from './config';
import { ShippingModule, shippingEntities, shippingMigrations } from './shipping.module';

/** The shipping service on its own: its database and RabbitMQ, from the environment (see config.ts). */
@Module({
  imports: [
    ...serviceInfrastructure(loadShippingConfig, {
      entities: shippingEntities,
      migrations: shippingMigrations,
    }),
    ShippingModule,
    TelemetryModule,
  ],
  controllers: [HealthController],
})
export class ShippingAppModule {}
