import type { Env } from '../../shared/src/env';
import { loadServiceConfig, type ServiceConfig } from '../../shared/src/service-config';

/** The shipping service's configuration: see apps/README-snippet.md. */
export function loadShippingConfig(env: Env = process.env): ServiceConfig {
  return loadServiceConfig(env, {
    serviceName: 'shipping',
    port: 3003,
    databaseUrl: 'sqlite:shipping.sqlite',
  });
}
