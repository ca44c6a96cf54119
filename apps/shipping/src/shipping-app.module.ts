import { Module } from '@nestjs/common';
import { HealthController } from '../../shared/src/health.controller';
import { MetricsController } from '../../shared/src/metrics';
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
  ],
  controllers: [HealthController, MetricsController],
})
export class ShippingAppModule {}
