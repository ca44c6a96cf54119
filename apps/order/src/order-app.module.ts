import { Module } from '@nestjs/common';
import { HealthController } from '../../shared/src/health.controller';
import { TelemetryModule } from '../../shared/src/telemetry.module';
import { serviceInfrastructure } from '../../shared/src/service-root';
import { loadOrderConfig } from './config';
import { OrderModule, orderEntities, orderMigrations } from './order.module';

/** The order service on its own: its database and RabbitMQ, from the environment (see config.ts). */
@Module({
  imports: [
    ...serviceInfrastructure(loadOrderConfig, { entities: orderEntities, migrations: orderMigrations }),
    OrderModule,
    TelemetryModule,
  ],
  controllers: [HealthController],
})
export class OrderAppModule {}
