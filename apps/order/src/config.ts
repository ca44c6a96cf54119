import type { Env } from '../../shared/src/env';
import { loadServiceConfig, type ServiceConfig } from '../../shared/src/service-config';

/** The order service's configuration: see apps/README-snippet.md. */
export function loadOrderConfig(env: Env = process.env): ServiceConfig {
  return loadServiceConfig(env, { serviceName: 'order', port: 3001, databaseUrl: 'sqlite:order.sqlite' });
}
