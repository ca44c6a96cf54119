import { Module } from '@nestjs/common';
import { HealthController } from '../../shared/src/health.controller';
import { TelemetryModule } from '../../shared/src/telemetry.module';
import { serviceInfrastructure } from '../../shared/src/service-root';
import { loadPaymentConfig } from './config';
import { CrashAfterCommitFailpoint } from './crash-after-commit.failpoint';
import { PaymentModule, paymentEntities, paymentMigrations } from './payment.module';

/** The payment service on its own: its database and RabbitMQ, from the environment (see config.ts). */
@Module({
  imports: [
    ...serviceInfrastructure(loadPaymentConfig, { entities: paymentEntities, migrations: paymentMigrations }),
    PaymentModule,
    TelemetryModule,
  ],
  controllers: [HealthController],
  // TEST-ONLY: inert unless PAYMENT_CRASH_AFTER_COMMIT_ONCE is set (see crash-after-commit.failpoint.ts).
  providers: [CrashAfterCommitFailpoint],
})
export class PaymentAppModule {}
