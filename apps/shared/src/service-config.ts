import { type DatabaseConfig, parseDatabaseUrl } from './database';
import { type Env, envOptional, envPort, envString } from './env';

/** The configuration every service reads from its environment. */
export interface ServiceConfig {
  /** `SERVICE_NAME`: the saga service name (reply queue, inbox consumer). Stored: keep it stable. */
  serviceName: string;
  /** `PORT`: HTTP port. */
  port: number;
  /** `DATABASE_URL`: `postgres://…`, `sqlite:<file>` or `sqlite::memory:`. */
  database: DatabaseConfig;
  /** `AMQP_URL`: the RabbitMQ broker. */
  amqpUrl: string;
  /** `SAGA_QUEUE_PREFIX`: prefix of the exchanges and queues (default: the library's, `saga`). */
  queuePrefix?: string;
}

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** Reads a service's configuration; `defaults` are used for unset variables. */
export function loadServiceConfig(
  env: Env,
  defaults: { serviceName: string; port: number; databaseUrl: string },
): ServiceConfig {
  return {
    serviceName: envString(env, 'SERVICE_NAME', defaults.serviceName),
    port: envPort(env, 'PORT', defaults.port),
    database: parseDatabaseUrl(envString(env, 'DATABASE_URL', defaults.databaseUrl)),
    amqpUrl: envString(env, 'AMQP_URL', DEFAULT_AMQP_URL),
    queuePrefix: envOptional(env, 'SAGA_QUEUE_PREFIX'),
  };
}
