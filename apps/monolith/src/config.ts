import { type DatabaseConfig, parseDatabaseUrl } from '../../shared/src/database';
import { type Env, envPort, envString } from '../../shared/src/env';

/** The monolith's configuration: see apps/README-snippet.md. No broker: sagas move in-process. */
export interface MonolithConfig {
  /** `SERVICE_NAME` (default `shop`): the saga service name. Stored: keep it stable. */
  serviceName: string;
  /** `PORT` (default 3000). */
  port: number;
  /** `DATABASE_URL` (default `sqlite:shop.sqlite`); `postgres://…` switches to PostgreSQL. */
  database: DatabaseConfig;
}

export function loadMonolithConfig(env: Env = process.env): MonolithConfig {
  return {
    serviceName: envString(env, 'SERVICE_NAME', 'shop'),
    port: envPort(env, 'PORT', 3000),
    database: parseDatabaseUrl(envString(env, 'DATABASE_URL', 'sqlite:shop.sqlite')),
  };
}
