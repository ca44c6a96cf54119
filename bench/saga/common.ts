import { DEFAULT_AMQP_URL } from '../lib/broker';
import { log } from './service';

/** Prefix of the distributed variants' exchanges and queues (the library's default is `saga`). */
export const SAGA_PREFIX = process.env.BENCH_SAGA_PREFIX ?? 'bench-saga';

/** One database per service, named after the variant's prefix, dropped and created again at the start of each run. */
export function sagaDatabases(prefix: string): { order: string; payment: string; shipping: string } {
  const base = prefix.replace(/[^a-zA-Z0-9]/g, '_').toLowerCase();
  return { order: `${base}_order`, payment: `${base}_payment`, shipping: `${base}_shipping` };
}

/** This process's databases (`bench_saga_order`, … with the default prefix). */
export const SAGA_DATABASES = sagaDatabases(SAGA_PREFIX);

/** The monolith on PostgreSQL: one database for the three modules and the saga tables. */
export const MONOLITH_DATABASE = 'bench_monolith';

/** What the RabbitMQ transport declares for `prefix` with the sample's three services (see rabbitmq.topology.ts). */
export function sagaBrokerObjects(prefix: string): { queues: string[]; exchanges: string[] } {
  const work = [`${prefix}.payment.commands`, `${prefix}.shipping.commands`, `${prefix}.order.replies`];
  return {
    queues: [...work, ...work.map((q) => `${q}.dlq`)],
    exchanges: [`${prefix}.commands`, `${prefix}.replies`, `${prefix}.dlx`],
  };
}

export function amqpUrl(): string {
  return process.env.AMQP_URL ?? DEFAULT_AMQP_URL;
}

/**
 * The RabbitMQ transport options of one service of the distributed saga variant: the library's defaults, but for
 * `BENCH_SAGA_CONSUMER_CONCURRENCY` (the transport's `concurrency`): `2` for every service, `payment:2,order:2`
 * for some.
 */
export function sagaTransportOptions(service: string): { url: string; prefix: string; concurrency?: number } {
  let concurrency: number | undefined;
  for (const part of (process.env.BENCH_SAGA_CONSUMER_CONCURRENCY ?? '').split(',').filter(Boolean)) {
    const [target, value] = part.includes(':') ? part.split(':') : [service, part];
    if (target === service) concurrency = Number(value);
  }
  return { url: amqpUrl(), prefix: SAGA_PREFIX, ...(concurrency ? { concurrency } : {}) };
}

/** Runs a bench entry; a failure to start is printed (stderr) and ends the process. */
export function runEntry(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    log(`${name} failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
}
