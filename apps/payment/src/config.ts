import type { Env } from '../../shared/src/env';
import { loadServiceConfig, type ServiceConfig } from '../../shared/src/service-config';

/** The payment service's configuration: see apps/README-snippet.md. */
export function loadPaymentConfig(env: Env = process.env): ServiceConfig {
  return loadServiceConfig(env, { serviceName: 'payment', port: 3002, databaseUrl: 'sqlite:payment.sqlite' });
}
