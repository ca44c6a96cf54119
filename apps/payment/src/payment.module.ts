import { Module } from '@nestjs/common';
import { Customer } from './customer.entity';
import { CustomerSeeder } from './customer-seeder';
import { CreatePaymentTables1760000002000 } from './migrations/1760000002000-create-payment-tables';
import { Payment } from './payment.entity';
import { PaymentParticipant } from './payment.participant';
import { PaymentsService } from './payments.service';

/** The payment service's tables, for the root module's DataSource. */
export const paymentEntities = [Customer, Payment];
export const paymentMigrations = [CreatePaymentTables1760000002000];

/** The payment participant. The root module decides the database and the saga transport. */
@Module({
  providers: [PaymentsService, PaymentParticipant, CustomerSeeder],
  exports: [PaymentsService],
})
export class PaymentModule {}
