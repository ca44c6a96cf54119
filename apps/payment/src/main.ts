import { serve } from '../../shared/src/bootstrap';
import { loadPaymentConfig } from './config';
import { PaymentAppModule } from './payment-app.module';

serve('payment', () => PaymentAppModule, loadPaymentConfig);
