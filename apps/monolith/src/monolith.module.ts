import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SagaModule, sagaEntities, sagaMigrations } from 'nestjs-saga';
import { OrderModule, orderEntities, orderMigrations } from '../../order/src/order.module';
import { PaymentModule, paymentEntities, paymentMigrations } from '../../payment/src/payment.module';
import { ShippingModule, shippingEntities, shippingMigrations } from '../../shipping/src/shipping.module';
import { dataSourceOptions } from '../../shared/src/database';
import { HealthController } from '../../shared/src/health.controller';
import { TelemetryModule } from '../../shared/src/telemetry.module';
import { loadMonolithConfig, type MonolithConfig } from './config';

/**
 * The three services in one app: one database for all their tables and the saga tables, and the
 * in-process saga transport. The order, payment and shipping modules are the same as in the services.
 */
@Module({})
export class MonolithModule {
  static forRoot(
    config: Pick<MonolithConfig, 'serviceName' | 'database'> = loadMonolithConfig(),
  ): DynamicModule {
    return {
      module: MonolithModule,
      imports: [
        TypeOrmModule.forRoot(
          dataSourceOptions(config.database, {
            entities: [...orderEntities, ...paymentEntities, ...shippingEntities, ...sagaEntities],
            migrations: [...orderMigrations, ...paymentMigrations, ...shippingMigrations, ...sagaMigrations],
          }),
        ),
        SagaModule.forRoot({ service: config.serviceName }),
        OrderModule,
        PaymentModule,
        ShippingModule,
        TelemetryModule,
      ],
      controllers: [HealthController],
    };
  }
}
