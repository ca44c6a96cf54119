import { serve } from '../../shared/src/bootstrap';
import { loadOrderConfig } from './config';
import { OrderAppModule } from './order-app.module';

serve('order', () => OrderAppModule, loadOrderConfig);
