import { serve } from '../../shared/src/bootstrap';
import { loadShippingConfig } from './config';
import { ShippingAppModule } from './shipping-app.module';

serve('shipping', () => ShippingAppModule, loadShippingConfig);
